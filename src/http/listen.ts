/**
 * `--http HOST:PORT` (SPEC §22): the local API listens on loopback only. It has no authentication
 * (it is read-only, for dashboards and scripts on the same machine), so an address other machines
 * could reach is refused, with what to do instead.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ListenAddress {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
}

export class ListenAddressError extends Error {
  override name = 'ListenAddressError';
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1';
  return false;
}

/** `127.0.0.1:8080`, `localhost:8080`, `[::1]:8080`. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (m === null) throw new ListenAddressError(`--http ${text}: expected HOST:PORT, e.g. 127.0.0.1:8080 (or [::1]:8080)`);
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  const port = Number(m[3]);
  if (!(port >= 0 && port <= 65_535)) throw new ListenAddressError(`--http ${text}: port ${m[3]} is outside 0–65535`);
  if (!isLoopback(host)) {
    throw new ListenAddressError(
      `--http ${text}: the HTTP API listens on loopback only (127.0.0.1, localhost or [::1]); it has no authentication, so ${host} would open it to the network. To reach it from elsewhere, put a reverse proxy with authentication (or an SSH tunnel) in front of 127.0.0.1:${port}`,
    );
  }
  // localhost may resolve to ::1 or 127.0.0.1 depending on the system: bind the IPv4 loopback explicitly.
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}
