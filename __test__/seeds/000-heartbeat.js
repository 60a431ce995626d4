//! Seed fixture: /work/shared/seeds/000_81d905f5aa12fdde.txt, the ```js block under "## 服务端".
//! Copied verbatim (the harness reads these //! lines as a header, see __test__/seeds.test.js).

const ws = require('ws'); // 引入 WebSocket 库

// 创建 WebSocket 服务器
const wss = new ws.Server({ port: 8080 },()=>{
    console.log('WebSocket 服务器已启动');
});

// wss.on('connection', (socket) => {
//     console.log("已连接")
//     socket.on('message', (message) => {//在服务端接收的消息通常是Buffer格式
//         console.log(`接收到消息: ${message}`);//触发了隐式转换，将Buffer转换为字符串
//         socket.send(message.toString('utf-8')); // 回显收到的消息
//     })
// })

//wss对象有一个clients属性，存放set格式，表示所有连接到该服务器的客户端，可以进行广播输出
// wss.on('connection', (socket) => {
//     console.log("已连接")
//     socket.on('message', (message) => {
//         wss.clients.forEach(client => {
//             client.send(message.toString('utf-8'));
//         })
//         // console.log(`接收到消息: ${message}`);
//         // socket.send(message.toString('utf-8'));
//     })
// })

//心跳检测- 由于网络波动或者网络弱，导致连接断开，该机制用于检测是否断开
wss.on("connection", (socket) => {
  let lastPongTime = Date.now(); // 1) 放外面，interval 能用

  socket.on("message", (message) => {
    const msg = message.toString("utf-8");

    // 2) 客户端回应 pong，服务端收到后更新时间
    if (msg === "pong") {
      lastPongTime = Date.now();
      return;
    }

    // 业务消息
    console.log("biz:", msg);
  });

  const heartCheck = setInterval(() => {
    if (socket.readyState !== ws.OPEN) {
      clearInterval(heartCheck);
      return;
    }

    socket.send("ping");

    // 3) 超时判死：10s 没收到 pong
    if (Date.now() - lastPongTime > 10000) {
      socket.close();
      clearInterval(heartCheck);
    }
  }, 5000);

  socket.on("close", () => clearInterval(heartCheck));
});
