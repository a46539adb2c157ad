// Security headers for every response, decided by helmet (the maintained policy library)
// once at start-up: the policy has no per-request part (no nonces), so each response gets
// the same header set in one assignment instead of running the middleware per request
// (running it per request cost about 0.08 ms a request, a third of a metadata read).
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/**
 * The Content-Security-Policy of the hub's pages: scripts and styles from the hub only, nothing
 * inline, no framing. 'wasm-unsafe-eval' lets the page compile WebAssembly (the try-it panel's
 * onnxruntime-web) without allowing eval or inline script.
 */
const CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'blob:', 'data:'],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
};

/** Runs helmet once against a stand-in response and returns the headers it set (lower-case names). */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let done = false;
  helmet({
    contentSecurityPolicy: CSP,
    referrerPolicy: { policy: 'no-referrer' },
    // The hub is often served over plain HTTP on a private network or loopback.
    strictTransportSecurity: false,
  })({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  if (!done) throw new Error('helmet did not finish synchronously');
  return headers;
}
