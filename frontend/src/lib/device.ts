/** Which built-in device profile the server should decide playback for. */
export function deviceProfileName(userAgent = typeof navigator === "undefined" ? "" : navigator.userAgent): string {
  if (/Firefox\//.test(userAgent)) return "firefox";
  if (/iPhone|iPad/.test(userAgent)) return "ios";
  if (/Safari\//.test(userAgent) && !/Chrom(e|ium)\//.test(userAgent)) return "safari";
  if (/Android/.test(userAgent)) return "android";
  return "chromium";
}
