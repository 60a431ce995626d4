//! Seed fixture: /work/shared/seeds/001_4419f70b84518a61.txt, the ```js block under "### websocket广播消息".
//! Copied verbatim (the harness reads these //! lines as a header, see __test__/seeds.test.js).

const WebSocket = require('ws')
const wss = new WebSocket.Server({ port: 3000 })
wss.on('connection', (ws) => {
    ws.on('message', (message) => {
        wss.clients.forEach(client => {
            if (client.readyState === WebSocket.OPEN) {
                client.send(message)
            }
        })
    })
})
