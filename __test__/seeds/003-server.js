//! Seed fixture: /work/shared/seeds/003_5b141795c5d864cb.txt, the inline server snippets in the
//! prose before the ```ts block (under "`nodejs`后端"), in order, copied verbatim.
//! Run as-is they throw at the first line (`ws` is never defined in them).
//! (The harness reads these //! lines as a header and as snippet separators.)
const wss = new ws.Server({ port: 8080 },()=>{console.log('server is running on8080');});
//! next inline snippet
wss.on('connection',()=>{})
//! next inline snippet
ws.on('message',()=>{})
