/**
 * Preloaded into Portkey's gateway (`node --require dist/bench/portkey-loopback.js …`): its
 * start-server.js calls `listen(port)` with no host, i.e. every interface, and has no setting for
 * it. The bench keeps everything on loopback, so a listen on a port without a host gets 127.0.0.1.
 */
import { Server } from 'node:net';

const listen = Server.prototype.listen;

Server.prototype.listen = function (this: Server, ...args: unknown[]) {
  if (typeof args[0] === 'number') {
    if (args[1] === undefined) args[1] = '127.0.0.1';
    else if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args as Parameters<typeof listen>);
} as typeof listen;
