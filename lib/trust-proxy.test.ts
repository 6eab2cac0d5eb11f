import { trustProxyFrom } from './trust-proxy';

test('TRUST_PROXY is a number of hops, a list of proxy addresses or ranges, or nothing', () => {
  expect(trustProxyFrom(undefined)).toBe(false);
  expect(trustProxyFrom('')).toBe(false);
  expect(trustProxyFrom('0')).toBe(false);
  expect(trustProxyFrom('1')).toBe(1);
  expect(trustProxyFrom('2')).toBe(2);
  expect(trustProxyFrom('10.0.0.0/8, 192.168.1.5,loopback')).toEqual(['10.0.0.0/8', '192.168.1.5', 'loopback']);
  expect(trustProxyFrom('fd00::/8,::1')).toEqual(['fd00::/8', '::1']);
});

test.each(['true', '*', 'proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/8', '-1', ','])(
  'TRUST_PROXY=%p is refused: trusting anyone would let a client choose its own address',
  (raw) => {
    expect(() => trustProxyFrom(raw)).toThrow(/TRUST_PROXY/);
  },
);
