import type { Context } from "hono";

// Where a request came from, for per-address limits. Runtime-neutral: Bun.serve hands
// the server to the app as its env (app.fetch(request, server)), which has requestIP();
// Deno.serve hands a ServeHandlerInfo with remoteAddr. Forwarded-For headers are not
// trusted: anyone can send one, and nodes are reached directly, not through a proxy.

/** What stands for "we could not tell" (app.request in tests, unknown runtimes): one shared key. */
export const UNKNOWN_ADDRESS = "unknown";

export type AddressOf = (request: Request, env: unknown) => string | null;

/** The peer address as the runtime reports it, or null. */
export const runtimeAddress: AddressOf = (request, env) => {
  if (typeof env !== "object" || env === null) return null;
  const bun = env as { requestIP?: (request: Request) => { address?: unknown } | null };
  if (typeof bun.requestIP === "function") {
    try {
      const address = bun.requestIP(request)?.address;
      return typeof address === "string" ? address : null;
    } catch {
      return null;
    }
  }
  const deno = env as { remoteAddr?: { hostname?: unknown } };
  return typeof deno.remoteAddr?.hostname === "string" ? deno.remoteAddr.hostname : null;
};

/**
 * The key one client's limits are counted under: an IPv4 address as is (an IPv4-mapped
 * IPv6 one too), an IPv6 address by its /64 (one host usually holds a whole /64, so
 * counting single addresses would give it 2^64 budgets).
 */
export function addressKey(address: string | null): string {
  if (address === null || address === "") return UNKNOWN_ADDRESS;
  const lower = address.toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (mapped !== null) return mapped[1]!;
  if (!lower.includes(":")) return lower;
  return `${expandIpv6(lower).slice(0, 4).join(":")}::/64`;
}

function expandIpv6(address: string): string[] {
  const [head = "", tail] = address.split("::", 2);
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = tail === undefined ? 0 : Math.max(0, 8 - left.length - right.length);
  return [...left, ...Array.from({ length: missing }, () => "0"), ...right].map((group) => group.replace(/^0+(?=.)/, ""));
}

/** The request's limit key, through the app's address function. */
export function clientKey(c: Context, addressOf: AddressOf): string {
  return addressKey(addressOf(c.req.raw, c.env));
}
