/** Binance USDⓈ-M futures as an exchange adapter: the normalizer and the stream subscriptions. */
import type { ExchangeAdapter } from '../core/source';
import { normalizeFrame } from './normalize';
import { marketStreams } from './streams';

export const binanceUsdm: ExchangeAdapter = {
  name: 'binance-usdm',
  normalize: (frame) => normalizeFrame(frame),
  subscriptions: (symbols, options) => marketStreams(symbols, options.markPrice),
};
