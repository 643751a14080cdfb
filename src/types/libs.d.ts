// Minimal types for the parts of untyped packages that Postern uses.
declare module 'libmime' {
  const libmime: {
    parseHeaderValue(value: string): { value: string; params: Record<string, string> };
    decodeWords(value: string): string;
  };
  export default libmime;
}
declare module 'libqp' {
  export function decode(text: string): Buffer;
}
declare module 'nodemailer/lib/addressparser' {
  export interface ParsedAddress {
    name: string;
    address?: string;
    group?: ParsedAddress[];
  }
  export default function addressparser(text: string, options?: { flatten?: boolean }): ParsedAddress[];
}
