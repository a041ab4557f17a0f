import type { IncomingMessage } from 'node:http';
import { ClientIpResolver } from '../../src/auth/client-ip.resolver';
import { compileWhitelist, parseAddress, parseRange } from '../../src/auth/ip-address';
import type { AppConfig } from '../../src/config/app-config';

const allowed = (whitelist: string[], ip: string) => compileWhitelist(whitelist)(parseAddress(ip));

describe('IP whitelist', () => {
  it('an empty list allows any address, even an unknown one', () => {
    expect(allowed([], '203.0.113.9')).toBe(true);
    expect(allowed([], '2001:db8::1')).toBe(true);
    expect(compileWhitelist([])(null)).toBe(true);
  });

  it('an exact IPv4 address allows only itself', () => {
    expect(allowed(['203.0.113.9'], '203.0.113.9')).toBe(true);
    expect(allowed(['203.0.113.9'], '203.0.113.10')).toBe(false);
    expect(compileWhitelist(['203.0.113.9'])(null)).toBe(false);
  });

  it('IPv4 and IPv6 CIDR ranges', () => {
    expect(allowed(['10.0.0.0/8'], '10.255.1.2')).toBe(true);
    expect(allowed(['10.0.0.0/8'], '11.0.0.1')).toBe(false);
    expect(allowed(['2001:db8::/32'], '2001:db8:ffff::1')).toBe(true);
    expect(allowed(['2001:db8::/32'], '2001:db9::1')).toBe(false);
    expect(allowed(['::1'], '::1')).toBe(true);
    expect(allowed(['2001:db8::/32'], '10.0.0.1')).toBe(false);
  });

  it('IPv4-mapped IPv6 equals its IPv4 form, on either side', () => {
    expect(allowed(['127.0.0.1'], '::ffff:127.0.0.1')).toBe(true);
    expect(allowed(['::ffff:127.0.0.1'], '127.0.0.1')).toBe(true);
    expect(allowed(['192.168.0.0/16'], '::ffff:192.168.4.5')).toBe(true);
    expect(allowed(['::ffff:192.168.0.0/112'], '192.168.4.5')).toBe(true);
    expect(allowed(['::ffff:192.168.0.0/112'], '192.169.4.5')).toBe(false);
    expect(allowed(['::/0'], '192.0.2.1')).toBe(true);
  });

  it('rejects malformed entries', () => {
    for (const bad of ['10.1', '10.0.0.0/33', '2001:db8::/129', 'localhost', '1.2.3.4/', '1.2.3.4/x', '']) {
      expect([bad, parseRange(bad)]).toEqual([bad, null]);
    }
    expect(() => compileWhitelist(['nope'])).toThrow(/nope/);
  });
});

const resolver = (trustProxy: string[]) => new ClientIpResolver({ trustProxy } as unknown as AppConfig);
const request = (socket: { remoteAddress?: string }, xff?: string) =>
  ({ socket, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('client address', () => {
  const trusted = resolver(['127.0.0.1/32', '10.0.0.0/8']);
  const client = (peer: string, xff?: string) => trusted.resolve(request({ remoteAddress: peer }, xff));

  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(resolver([]).resolve(request({ remoteAddress: '127.0.0.1' }, '203.0.113.9'))).toBe('127.0.0.1');
    expect(client('198.51.100.7', '203.0.113.9')).toBe('198.51.100.7');
  });

  it('normalises an IPv4-mapped peer', () => {
    expect(client('::ffff:198.51.100.7')).toBe('198.51.100.7');
  });

  it('reads X-Forwarded-For right to left from a trusted proxy, skipping trusted hops', () => {
    expect(client('127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    expect(client('127.0.0.1', '1.1.1.1, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    expect(client('::ffff:127.0.0.1', '2001:db8::5')).toBe('2001:db8::5');
  });

  it('stops at garbage and keeps the last address that could be trusted', () => {
    expect(client('127.0.0.1', 'evil, 10.0.0.2')).toBe('10.0.0.2');
    expect(client('127.0.0.1', '10.0.0.2, 10.0.0.3')).toBe('10.0.0.2');
    expect(client('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('ClientIpResolver (the peer read once per socket)', () => {
  it('reads each request’s X-Forwarded-For on a kept-alive socket of a trusted proxy', () => {
    const ips = resolver(['127.0.0.1/32']);
    const proxy = { remoteAddress: '::ffff:127.0.0.1' };
    expect(ips.resolve(request(proxy, '203.0.113.9'))).toBe('203.0.113.9');
    expect(ips.resolve(request(proxy, '198.51.100.7'))).toBe('198.51.100.7');
    expect(ips.resolve(request(proxy))).toBe('127.0.0.1');
    expect(ips.resolve(request(proxy, 'garbage'))).toBe('127.0.0.1');
  });

  it('ignores X-Forwarded-For from any other peer, and keeps the peer of each socket apart', () => {
    const ips = resolver(['127.0.0.1/32']);
    const a = { remoteAddress: '198.51.100.7' };
    const b = { remoteAddress: '2001:db8::5' };
    expect(ips.resolve(request(a, '203.0.113.9'))).toBe('198.51.100.7');
    expect(ips.resolve(request(b, '203.0.113.9'))).toBe('2001:db8::5');
    expect(ips.resolve(request(a))).toBe('198.51.100.7');
  });

  it('has no address for a socket without one, and reads it once the socket has one', () => {
    const ips = resolver([]);
    const socket: { remoteAddress?: string } = {};
    expect(ips.resolve(request(socket, '203.0.113.9'))).toBeNull();
    socket.remoteAddress = '192.0.2.1';
    expect(ips.resolve(request(socket))).toBe('192.0.2.1');
  });
});
