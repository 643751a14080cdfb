/** Hard limits of the IMAP server; the message size and idle timeout come from the config. */
export const IMAP_LIMITS = {
  maxLineBytes: 65_536, // RFC 7162 §4 recommends accepting lines of at least 8192 octets
  maxBadCommands: 10,
} as const;
