//! Seed fixture: /work/shared/seeds/003_5b141795c5d864cb.txt, the ```ts block after "监听客户端消息".
//! Copied verbatim (the harness reads these //! lines as a header, see __test__/seeds.test.js).
//! TypeScript, compiled at test time like ts-node would. It does NOT parse: TS1005 "',' expected"
//! (the `)` closing client.send(...) is missing); the test asserts that, and also runs what tsc
//! emits anyway (tsc without noEmitOnError emits; its parser repairs the missing `)`).

// import ws from 'ws'
import * as ws from 'ws'

//创建 socket server服务 8080端口
const wss = new ws.Server({ port: 8080 },()=>{
    console.log('server is running on 8080');
});
const state = {
    HEART:1,
    MESSAGE:2
}

//监听连接事件
wss.on('connection', (ws) => {
    //客户端链接成功
    console.log('client connected');
    //监听客户端消息
    ws.on('message', (message) => {
        console.log('received: %s', message.toString());
        wss.clients.forEach((client) => {
            client.send(JSON.stringify({
                state:state.MESSAGE,
                message:message.toString()
            })
        })
    })
    let hraetInreval = null;
    //心跳包
    const sendHeart = () => {
        if(ws.readyState === ws.OPEN){
            ws.send(JSON.stringify({state:state.HEART,message:"心跳"}));
        }else{
            clearInterval(hraetInreval);
        }
    }
    hraetInreval = setInterval(sendHeart, 5000);
})
