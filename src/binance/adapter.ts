/** Binance USDⓈ-M futures as an exchange adapter: the normalizer, the stream subscriptions and the order books. */
import type { ExchangeAdapter } from '../core/source';
import { BookRoom } from './book/book-room';
import { normalizeFrame } from './normalize';
import { marketStreams } from './streams';

export const binanceUsdm: ExchangeAdapter = {
  name: 'binance-usdm',
  normalize: (frame) => normalizeFrame(frame),
  subscriptions: (symbols, options) => marketStreams(symbols, options.markPrice),
  books: (options) => new BookRoom(options),
};
