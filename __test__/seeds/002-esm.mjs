//! Seed fixture: /work/shared/seeds/002_e45084fc08fa3deb.txt, the ```javascript block under "#### 服务器代码示例（Node.js）".
//! Copied verbatim except two syntax fixes, each marked with a SEED-FIX comment that
//! records the original text (the seed does not parse otherwise). Nothing else is fixed:
//! e.g. `socket` in heartCheck is still undefined, and with the one missing `)` added where
//! the parser wants it, `heartCheck` is out of scope where setInterval uses it.
//! (The harness reads these //! lines as a header, see __test__/seeds.test.js.)

import WS from "ws"
const wss = new WS.Server({ port: 8080 });

const state = {
    HEART:1, // SEED-FIX: was "HEART:1." ("." where a "," was meant: a syntax error)
    MESSAGE:2
}

wss.on('connection', (ws) => {
  console.log('Client connected');

  ws.on('message', (message) => {
    console.log('Received:', message);
    // 点对点
    ws.send(`我是服务端: ${message}`); // 向客户端回送消息
    // 广播
    wss.clients.forEach((client) => {
      client.send('我是服务端 发送给客户端的消息' + message.toString())
  });

// 心跳检测

let heartInreaval = null
const heartCheck = () =>{
    if(ws.readyState === WS.OPEN) {
        socket.send(JSON.stringify({
            type:state.HEART,
            message:"心跳检测"
        }))
    }else {
        clearInterval(heartInreaval)
    }
    }
}) // SEED-FIX: was "}" (the ")" closing ws.on('message', ...) was missing: a syntax error)
heartInreaval = setInterval(heartCheck,5000)
});
