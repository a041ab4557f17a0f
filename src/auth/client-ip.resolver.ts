import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { type Address, clientBehind, compileRanges, type IpMatcher, parseAddress } from './ip-address';

/** A connection's peer, parsed once: keep-alive clients send many requests over one socket. */
interface Peer {
  address: Address | null;
  /** The address as text, IPv4-mapped IPv6 shown as IPv4 (null: the socket has none). */
  text: string | null;
  /** A TRUST_PROXY peer: its X-Forwarded-For is read. */
  trusted: boolean;
}

/** The client address of a request, honouring X-Forwarded-For only from TRUST_PROXY peers. */
@Injectable()
export class ClientIpResolver {
  private readonly trusted: IpMatcher;
  private readonly peers = new WeakMap<Socket, Peer>();

  constructor(config: AppConfig) {
    // TRUST_PROXY entries were validated with the environment (env.schema.ts).
    this.trusted = compileRanges(config.trustProxy);
  }

  /** The address as text (IPv4-mapped IPv6 shown as IPv4), or null when the socket has none. */
  resolve(req: IncomingMessage): string | null {
    const peer = this.peer(req.socket);
    const address = clientBehind(peer.address, peer.trusted, req.headers['x-forwarded-for'], this.trusted);
    // The peer itself (the common case: no trusted proxy in front) keeps its text from the cache.
    if (address === peer.address) return peer.text;
    return address ? address.toString() : null;
  }

  private peer(socket: Socket): Peer {
    let peer = this.peers.get(socket);
    if (peer) return peer;
    const remote = socket.remoteAddress;
    const address = remote ? parseAddress(remote) : null;
    peer = {
      address,
      text: address ? address.toString() : null,
      trusted: address !== null && this.trusted(address),
    };
    // Before the socket is connected (or after it closed) there is no address yet to keep.
    if (remote) this.peers.set(socket, peer);
    return peer;
  }
}
