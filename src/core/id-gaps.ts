/**
 * Trade-id gaps that are really gaps (issue 9 item 7). Binance trade ids are consecutive per
 * symbol, so a jump means trades we never received — unless the missing ids are merely late: a
 * make-before-break rotation or a reordering proxy delivers a few ids out of order, and counting
 * every jump then reports losses that never happened.
 *
 * So a jump opens a *hole* (the run of missing ids) and the hole waits: an id arriving late fills
 * it (splitting it when it lands in the middle). A hole counts as a gap only once the symbol's
 * receipt time has moved `waitMs` past its opening without it being filled, or when more than
 * `maxHoles` are open (the oldest is given up first): the count never goes down, and memory is
 * bounded. Receipt times (`recv_ms`) are recorded in captures, so replay counts the same gaps.
 *
 * Cost on the hot path: a comparison for an id in sequence; the hole list is touched only on a
 * jump, a late id or an expiry.
 */

interface Hole {
  /** First and last missing id, inclusive. */
  from: number;
  to: number;
  /** Receipt time at which the hole was seen opening. */
  openedRecvMs: number;
}

export class IdGaps {
  /** Holes given up on: runs of ids that never arrived. */
  confirmed = 0;
  private max = -1;
  private maxRecvMs = Number.NEGATIVE_INFINITY;
  /** Ascending by `from`, disjoint, all below `max`; opened in this order too. */
  private readonly holes: Hole[] = [];

  constructor(
    private readonly waitMs: number,
    private readonly maxHoles: number,
  ) {
    if (!(waitMs >= 0) || !(maxHoles >= 1)) throw new RangeError(`IdGaps needs waitMs >= 0 and maxHoles >= 1, got ${waitMs}, ${maxHoles}`);
  }

  /** Holes still waiting for late ids (not counted yet). */
  get open(): number {
    return this.holes.length;
  }

  /** One accepted (non-duplicate) id and its local receipt time. */
  observe(id: number, recvMs: number): void {
    if (recvMs > this.maxRecvMs) this.maxRecvMs = recvMs;
    if (this.max < 0) {
      this.max = id;
      return;
    }
    if (id > this.max + 1) this.holes.push({ from: this.max + 1, to: id - 1, openedRecvMs: this.maxRecvMs });
    if (id > this.max) this.max = id;
    else if (this.holes.length > 0) this.fill(id);
    this.expire();
  }

  private fill(id: number): void {
    const h = this.holes;
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((h[mid] as Hole).to < id) lo = mid + 1;
      else hi = mid;
    }
    const hole = h[lo];
    if (hole === undefined || id < hole.from) return;
    if (hole.from === hole.to) h.splice(lo, 1);
    else if (id === hole.from) hole.from++;
    else if (id === hole.to) hole.to--;
    else {
      h.splice(lo + 1, 0, { from: id + 1, to: hole.to, openedRecvMs: hole.openedRecvMs });
      hole.to = id - 1;
    }
  }

  private expire(): void {
    const h = this.holes;
    // Holes open in ascending order of time too, so the oldest is first.
    while (h.length > 0 && (h.length > this.maxHoles || this.maxRecvMs - (h[0] as Hole).openedRecvMs > this.waitMs)) {
      h.shift();
      this.confirmed++;
    }
  }
}
