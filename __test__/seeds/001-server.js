//! Seed fixture: /work/shared/seeds/001_4419f70b84518a61.txt, the ```js block under "### 服务器端".
//! Copied verbatim (the harness reads these //! lines as a header, see __test__/seeds.test.js).

const WebSocket = require('ws')
const wss = new WebSocket.Server({ port: 3000 })
wss.on('connection', (ws) => {
    ws.on('message', (message) => {
        console.log('received: %s', message)
    })
    ws.send('something')
})
