/** The fallback universe if the ticker query fails (SPEC §3); intersected with TRADING symbols. */
export const FALLBACK_SYMBOLS = Object.freeze([
  'BTCUSDT',
  'ETHUSDT',
  'BNBUSDT',
  'SOLUSDT',
  'XRPUSDT',
  'ADAUSDT',
  'DOGEUSDT',
  'AVAXUSDT',
  'LINKUSDT',
  'MATICUSDT',
]);
