//! Seed fixture: /work/shared/seeds/001_4419f70b84518a61.txt, the ```js block under "### websocket心跳检测".
//! Copied verbatim (the harness reads these //! lines as a header, see __test__/seeds.test.js).
//! Run as-is it throws at startup: the seed calls `wws.on(...)` but only defines `wss`.

const state = {
    heart:1,
    message:0
}

const WebSocket = require('ws')
const wss = new WebSocket.Server({ port: 3000 })
wws.on('connection',(ws)=>{
    ws.on('message',(message)=>{
        if(message === 'ping'){
            ws.send(JSON.stringify({
                type:state.message,
                message:"pong"
            }))
        }
    })
    let heartInterval = null
    const heartCheck = ()=>{
        if(wws.readyState === WebSocket.OPEN){
            ws.send(JSON.stringify({
                type:state.heart,
                message:"ping"}))
    }else{
        clearInterval(heartInterval)
    }
    }
    setInterval(hertCheck,5000)
})
