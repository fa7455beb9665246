import type { Cancellation } from "../core/cancel.js";

/**
 * A request open in the gateway: its cancellation, and its place among the others. The links live on
 * the request's own scope, so that opening and ending a request allocates nothing.
 */
export interface OpenRequest {
  readonly cancellation: Cancellation;
  prevOpen: OpenRequest | undefined;
  nextOpen: OpenRequest | undefined;
}

/**
 * The requests open now, for the shutdown to cut the ones its grace did not see end. A list linked
 * through the requests themselves: a request joins and leaves in constant time, with no closure and no
 * array entry per request. A listener per request on one shared cancellation cost a closure each and
 * an indexOf and a splice over every request open (see docs/performance-findings.md#open-requests).
 *
 * Not a Set: a long-lived Set keeps the hash tables it outgrows, and the requests they held, reachable
 * from the old generation (docs/performance-findings.md#requests-held-by-a-set). A request that leaves the
 * list here is referred to by nothing of it.
 */
export class OpenRequests {
  private head: OpenRequest | undefined;
  private count = 0;

  /** Requests open now. */
  get size(): number {
    return this.count;
  }

  add(request: OpenRequest): void {
    request.prevOpen = undefined;
    request.nextOpen = this.head;
    if (this.head !== undefined) this.head.prevOpen = request;
    this.head = request;
    this.count++;
  }

  /** Takes the request out; one that is not in (it ended before) is left as it is. */
  remove(request: OpenRequest): void {
    const { prevOpen, nextOpen } = request;
    if (prevOpen === undefined && this.head !== request) return;
    if (prevOpen === undefined) this.head = nextOpen;
    else prevOpen.nextOpen = nextOpen;
    if (nextOpen !== undefined) nextOpen.prevOpen = prevOpen;
    request.prevOpen = undefined;
    request.nextOpen = undefined;
    this.count--;
  }

  /**
   * Aborts every request open now with `reason()`. They are gathered first: a request cut may end
   * another at once, which then leaves the list while it is walked. Each stays in the list until it ends.
   */
  cutAll(reason: () => unknown): void {
    const open: OpenRequest[] = [];
    for (let request = this.head; request !== undefined; request = request.nextOpen) open.push(request);
    for (const request of open) request.cancellation.abort(reason());
  }
}
