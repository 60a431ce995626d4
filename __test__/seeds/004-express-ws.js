//! Seed fixture: /work/shared/seeds/004_450b57cbda3a9b2f.txt, the ```js block under "#### `ws` + `express` 的使用".
//! Copied verbatim (the harness reads these //! lines as a header, see __test__/seeds.test.js).
//! express-ws creates the WebSocketServer with the `server` option; its require('ws') is resolved
//! to the implementation under test by the harness's preload.

const express = require("express");

const expressWs = require("express-ws");

// 创建 应用
const app = express();
// 在 应用上 创建 websocket 服务
// expressWs(app, server, options) 会返回 一个 websocket服务器对象实例 wsInstance
const wsInstance = expressWs(app);
// 可以通过 wsInstance 获取 ~.app 获取应用 ~.getWss() 获取websocket服务器
// console.log(wsInstance.getWss().clients); // 获取连接服务器的所有用户

app.ws('/talk', (ws, req) => {
  console.log('连接了');
})

app.get('/data', (req, res) => {
  res.send('122222');
})

// 监听端口
app.listen(8080);
