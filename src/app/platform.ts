/**
 * The few facts the app needs about the platform it runs on, in one place so the Windows
 * behaviour can be tested on Linux (test/windows.test.ts) and in the Windows lane.
 */

/**
 * Every way a console asks us to stop. SIGINT is Ctrl+C everywhere; SIGTERM is `kill` on
 * Linux/macOS; on Windows Ctrl+Break is SIGBREAK, and closing the console window is SIGHUP, after
 * which Windows ends the process about 10 s later whatever it does (a clean stop takes well under
 * that). Listening to a signal a platform never sends is allowed and does nothing.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGBREAK', 'SIGHUP'] as const;

/** qode (NodeGui's Node build, the standard Windows/macOS runtime) runs Qt's event loop itself. */
export function runsUnderQode(versions: NodeJS.ProcessVersions = process.versions): boolean {
  return typeof (versions as Record<string, string | undefined>).qode === 'string';
}
