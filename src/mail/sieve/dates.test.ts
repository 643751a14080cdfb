import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileScript, SieveError } from './compile.js';
import { datePart, headerDate, parseZone } from './dates.js';
import { runScript, type SieveMessage } from './interpret.js';
import { checkVacation, rulesScript, EMPTY_RULES } from './rules.js';

const LIMITS = { maxRedirects: 4, maxActions: 32 };
const AT = new Date('2026-12-24T22:30:05Z'); // a Thursday

function message(date: string | undefined, now = AT): SieveMessage {
  return {
    header: (name) => (name.toLowerCase() === 'date' && date !== undefined ? [date] : []),
    envelope: { from: 'alice@example.org', to: 'bob@example.com' },
    size: 100,
    body: () => [''],
    mailboxExists: () => true,
    now,
  };
}
const kept = (script: string, msg: SieveMessage) =>
  runScript(compileScript(`require ["date", "relational", "fileinto"];\n${script}`), msg, LIMITS).map((a) =>
    a.type === 'fileinto' ? a.mailbox : a.type,
  );

describe('Sieve date (RFC 5260)', () => {
  it('gives every date-part in the zone asked for', () => {
    const utc = (part: string) => datePart(AT, 0, part);
    assert.deepEqual(['year', 'month', 'day', 'date', 'hour', 'minute', 'second', 'time', 'zone', 'weekday'].map(utc), [
      '2026',
      '12',
      '24',
      '2026-12-24',
      '22',
      '30',
      '05',
      '22:30:05',
      '+0000',
      '4',
    ]);
    assert.equal(utc('iso8601'), '2026-12-24T22:30:05+00:00');
    assert.equal(utc('std11'), 'Thu, 24 Dec 2026 22:30:05 +0000');
    assert.equal(utc('julian'), '61398'); // RFC 5260 §4.2: the Modified Julian Day
    const east = parseZone('+0130')!;
    assert.equal(datePart(AT, east, 'iso8601'), '2026-12-25T00:00:05+01:30', 'the next day there');
    assert.equal(datePart(AT, parseZone('-0800')!, 'weekday'), '4');
    assert.equal(datePart(AT, 0, 'fortnight'), undefined);
    assert.equal(parseZone('+2400'), undefined);
    assert.deepEqual(headerDate('Thu, 24 Dec 2026 17:30:05 -0500 (EST)'), { at: AT, zone: -300 });
    assert.equal(headerDate('next Tuesday-ish'), undefined);
  });

  it('tests the time of delivery (currentdate) and a header field date (date)', () => {
    const script = `
      if currentdate :zone "+0000" :value "ge" "iso8601" "2026-12-24T00:00:00+00:00" { fileinto "Holiday"; }
      if currentdate :zone "+0000" :is "weekday" "0" { fileinto "Sunday"; }
      if date :originalzone "date" "zone" "-0500" { fileinto "East"; }
      if date :zone "+0000" "date" "hour" "22" { fileinto "Late"; }
      if date "x-missing" "year" "2026" { fileinto "Never"; }`;
    assert.deepEqual(kept(script, message('Thu, 24 Dec 2026 17:30:05 -0500')), ['Holiday', 'East', 'Late']);
    assert.deepEqual(kept(script, message('garbage', new Date('2026-12-20T10:00:00Z'))), ['Sunday']);
  });

  it('refuses an unknown date-part or zone when the script is stored', () => {
    assert.throws(() => compileScript('require "date";\nif currentdate "fortnight" "1" { keep; }'), SieveError);
    assert.throws(
      () => compileScript('require "date";\nif currentdate :zone "CET" "year" "2026" { keep; }'),
      /time zone/,
    );
    assert.throws(() => compileScript('if currentdate "year" "2026" { keep; }'), /needs require "date"/);
  });

  it('writes a vacation reply with dates as currentdate tests, and one with HTML as a :mime multipart/alternative', () => {
    const vacation = checkVacation({
      enabled: true,
      body: 'Away.',
      html: '<p>Away.</p>',
      fromDate: '2026-12-24T00:00:00Z',
      toDate: '2027-01-04T08:00:00.000Z',
    });
    assert.equal(vacation.toDate, '2027-01-04T08:00:00Z');
    const script = rulesScript({ ...EMPTY_RULES, vacation });
    assert.match(script, /require \[.*"date".*\]/);
    assert.match(script, /currentdate :zone "\+0000" :value "ge" "iso8601" "2026-12-24T00:00:00\+00:00"/);
    assert.match(script, /currentdate :zone "\+0000" :value "lt" "iso8601" "2027-01-04T08:00:00\+00:00"/);
    assert.match(script, /vacation :days 7 :subject "" :mime "Content-Type: multipart\/alternative/);
    const during = runScript(compileScript(script), message(undefined, new Date('2026-12-30T12:00:00Z')), LIMITS);
    const reply = during.find((a) => a.type === 'vacation');
    assert.ok(reply?.type === 'vacation' && reply.mime && reply.reason.includes('<p>Away.</p>'));
    for (const outside of ['2026-12-23T23:59:59Z', '2027-01-04T08:00:00Z'])
      assert.ok(
        !runScript(compileScript(script), message(undefined, new Date(outside)), LIMITS).some(
          (a) => a.type === 'vacation',
        ),
        outside,
      );
    assert.throws(
      () =>
        checkVacation({ enabled: true, body: 'x', fromDate: '2027-01-01T00:00:00Z', toDate: '2026-01-01T00:00:00Z' }),
      /after/,
    );
    assert.throws(() => checkVacation({ enabled: true, body: 'x', fromDate: 'tomorrow' }), /UTC date/);
  });
});
