import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { compileRanges, type IpMatcher, resolveClientAddress } from './ip-address';

/** The client address of a request, honouring X-Forwarded-For only from TRUST_PROXY peers. */
@Injectable()
export class ClientIpResolver {
  private readonly trusted: IpMatcher;

  constructor(config: AppConfig) {
    // TRUST_PROXY entries were validated with the environment (env.schema.ts).
    this.trusted = compileRanges(config.trustProxy);
  }

  /** The address as text (IPv4-mapped IPv6 shown as IPv4), or null when the socket has none. */
  resolve(req: IncomingMessage): string | null {
    const address = resolveClientAddress(
      req.socket.remoteAddress,
      req.headers['x-forwarded-for'],
      this.trusted,
    );
    return address ? address.toString() : null;
  }
}
