/**
 * A token bucket, pure: `perSecond` tokens a second, at most `burst` held, a new bucket full.
 * A sink's `rateLimit` is one per sink in each dispatcher; the dispatcher takes a token per
 * delivery it takes in hand, so its calls over any window of w ms are at most
 * burst + perSecond * w / 1000.
 */

export interface Rate {
  readonly perSecond: number
  readonly burst: number
}

export interface Bucket {
  readonly tokens: number
  readonly at: number
}

/** The bucket as it is at `now`. */
export const refill = (bucket: Bucket | undefined, rate: Rate, now: number): Bucket =>
  bucket === undefined
    ? { tokens: rate.burst, at: now }
    : { tokens: Math.min(rate.burst, bucket.tokens + (Math.max(0, now - bucket.at) * rate.perSecond) / 1_000), at: Math.max(now, bucket.at) }

/** Whole tokens on hand: how many deliveries may be taken now. */
export const available = (bucket: Bucket): number => Math.floor(bucket.tokens + 1e-9)

export const spend = (bucket: Bucket, n: number): Bucket => ({ tokens: bucket.tokens - n, at: bucket.at })

/** When the bucket next holds a whole token (now, when it holds one). */
export const nextTokenAt = (bucket: Bucket, rate: Rate): number =>
  available(bucket) >= 1 ? bucket.at : bucket.at + Math.ceil(((1 - bucket.tokens) * 1_000) / rate.perSecond)
