// Open SSE connections, counted in two pools so that anonymous dashboard streams can
// never take the slots of signed-in users' event streams (1,000 anonymous
// /v1/cluster/events once made /v1/events answer 429). Each pool caps its total and, per
// key (a client address, an account), what one client may hold.

export interface StreamLimits {
  /** Open streams in the pool at most. */
  readonly max: number;
  /** Open streams per client address at most. */
  readonly perAddress: number;
  /** Open streams per account at most (account streams only). */
  readonly perAccount?: number;
}

export type Acquired = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly reason: string };

export class StreamPool {
  private open = 0;
  /** Open streams per key; a key with none is removed, so the map never outgrows `open`. */
  private readonly perKey = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly limits: StreamLimits,
  ) {}

  get count(): number {
    return this.open;
  }

  /** A slot for a stream of `address` (and `account`), or why not. */
  acquire(address: string, account: string | null = null): Acquired {
    if (this.open >= this.limits.max) return { ok: false, reason: `this node already serves ${this.limits.max} ${this.name} streams` };
    const keys: string[] = [`address:${address}`];
    if ((this.perKey.get(keys[0]!) ?? 0) >= this.limits.perAddress) return { ok: false, reason: `${this.limits.perAddress} ${this.name} streams are already open from your address` };
    if (account !== null && this.limits.perAccount !== undefined) {
      const key = `account:${account}`;
      if ((this.perKey.get(key) ?? 0) >= this.limits.perAccount) return { ok: false, reason: `${this.limits.perAccount} ${this.name} streams are already open for this account` };
      keys.push(key);
    }
    this.open++;
    for (const key of keys) this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        for (const key of keys) {
          const left = (this.perKey.get(key) ?? 1) - 1;
          if (left <= 0) this.perKey.delete(key);
          else this.perKey.set(key, left);
        }
      },
    };
  }
}

export const DEFAULT_DASHBOARD_STREAMS: StreamLimits = { max: 200, perAddress: 8 };
export const DEFAULT_ACCOUNT_STREAMS: StreamLimits = { max: 1000, perAddress: 100, perAccount: 10 };
