/**
 * What mail clients are told about the servers to use: Thunderbird's autoconfig
 * (config-v1.1.xml), Outlook's autodiscover (POX, responseschema 2006a) and an Apple
 * configuration profile (.mobileconfig). Every one names the host on the certificate and the
 * listeners configured, implicit TLS first (RFC 8314 §5.1).
 */
import { createHash } from 'node:crypto';

export interface ClientEndpoints {
  /** The name clients connect to: on the certificate, never an internal name or an IP. */
  host: string;
  imaps?: number | undefined;
  imap?: number | undefined;
  pop3s?: number | undefined;
  pop3?: number | undefined;
  submissions?: number | undefined;
  submission?: number | undefined;
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Thunderbird autoconfig, https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat */
export function autoconfigXml(domain: string, e: ClientEndpoints): string {
  const x = xmlEscape;
  const server = (
    tag: 'incomingServer' | 'outgoingServer',
    type: string,
    port: number | undefined,
    socket: 'SSL' | 'STARTTLS',
  ) =>
    port === undefined
      ? ''
      : `    <${tag} type="${type}">
      <hostname>${x(e.host)}</hostname>
      <port>${port}</port>
      <socketType>${socket}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </${tag}>
`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${x(domain)}">
    <domain>${x(domain)}</domain>
    <displayName>${x(domain)} mail</displayName>
    <displayShortName>${x(domain)}</displayShortName>
${server('incomingServer', 'imap', e.imaps, 'SSL')}${server('incomingServer', 'imap', e.imap, 'STARTTLS')}${server('incomingServer', 'pop3', e.pop3s, 'SSL')}${server('incomingServer', 'pop3', e.pop3, 'STARTTLS')}${server('outgoingServer', 'smtp', e.submissions, 'SSL')}${server('outgoingServer', 'smtp', e.submission, 'STARTTLS')}  </emailProvider>
</clientConfig>
`;
}

/** The address in an Outlook autodiscover request, or undefined. */
export function autodiscoverAddress(body: string): string | undefined {
  const m = /<EMailAddress>\s*([^<\s]{3,320})\s*<\/EMailAddress>/i.exec(body);
  return m?.[1];
}

/** Outlook autodiscover POX response (MS-OXDSCLI), IMAP and SMTP. */
export function autodiscoverXml(address: string, e: ClientEndpoints): string {
  const x = xmlEscape;
  const protocol = (type: 'IMAP' | 'POP3' | 'SMTP', port: number | undefined, implicit: boolean) =>
    port === undefined
      ? ''
      : `      <Protocol>
        <Type>${type}</Type>
        <Server>${x(e.host)}</Server>
        <Port>${port}</Port>
        <DomainRequired>off</DomainRequired>
        <LoginName>${x(address)}</LoginName>
        <SPA>off</SPA>
        ${implicit ? '<SSL>on</SSL>' : '<Encryption>TLS</Encryption>'}
        <AuthRequired>on</AuthRequired>${type === 'SMTP' ? '\n        <UsePOPAuth>on</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>' : ''}
      </Protocol>
`;
  const imap = e.imaps !== undefined ? protocol('IMAP', e.imaps, true) : protocol('IMAP', e.imap, false);
  const pop3 = e.pop3s !== undefined ? protocol('POP3', e.pop3s, true) : protocol('POP3', e.pop3, false);
  const smtp =
    e.submissions !== undefined ? protocol('SMTP', e.submissions, true) : protocol('SMTP', e.submission, false);
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
${imap}${pop3}${smtp}    </Account>
  </Response>
</Autodiscover>
`;
}

/** An unsigned Apple configuration profile with one IMAP account (com.apple.mail.managed). */
export function mobileconfig(address: string, e: ClientEndpoints): string {
  const x = xmlEscape;
  const incoming =
    e.imaps !== undefined
      ? { port: e.imaps, ssl: true }
      : e.imap !== undefined
        ? { port: e.imap, ssl: false }
        : undefined;
  const outgoing =
    e.submissions !== undefined
      ? { port: e.submissions, ssl: true }
      : e.submission !== undefined
        ? { port: e.submission, ssl: false }
        : undefined;
  if (!incoming || !outgoing) throw new Error('an Apple profile needs an IMAP and a submission listener');
  const id = e.host.split('.').reverse().join('.');
  const bool = (b: boolean) => (b ? '<true/>' : '<false/>');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>${x(address)}</string>
      <key>EmailAccountType</key><string>EmailTypeIMAP</string>
      <key>EmailAddress</key><string>${x(address)}</string>
      <key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>IncomingMailServerHostName</key><string>${x(e.host)}</string>
      <key>IncomingMailServerPortNumber</key><integer>${incoming.port}</integer>
      <key>IncomingMailServerUseSSL</key>${bool(incoming.ssl)}
      <key>IncomingMailServerUsername</key><string>${x(address)}</string>
      <key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>OutgoingMailServerHostName</key><string>${x(e.host)}</string>
      <key>OutgoingMailServerPortNumber</key><integer>${outgoing.port}</integer>
      <key>OutgoingMailServerUseSSL</key>${bool(outgoing.ssl)}
      <key>OutgoingMailServerUsername</key><string>${x(address)}</string>
      <key>OutgoingPasswordSameAsIncomingPassword</key><true/>
      <key>PayloadDescription</key><string>Mail account ${x(address)}</string>
      <key>PayloadDisplayName</key><string>${x(address)}</string>
      <key>PayloadIdentifier</key><string>${x(id)}.mail.${uuid(`${address}|account`)}</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>${uuid(`${address}|account`)}</string>
      <key>PayloadVersion</key><integer>1</integer>
      <key>SMIMEEnabled</key><false/>
    </dict>
  </array>
  <key>PayloadDescription</key><string>Mail settings for ${x(address)}</string>
  <key>PayloadDisplayName</key><string>${x(address.slice(address.lastIndexOf('@') + 1))} mail</string>
  <key>PayloadIdentifier</key><string>${x(id)}.profile.${uuid(`${address}|profile`)}</string>
  <key>PayloadRemovalDisallowed</key><false/>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>${uuid(`${address}|profile`)}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
`;
}

/** A stable UUID per input, so installing the profile again replaces the account instead of adding one. */
function uuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}
