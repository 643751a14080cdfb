import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageDigest } from './index.js';
import { bayesProbability, chi2Q, probabilitySymbol } from './model.js';
import { featureHash, features, featureStrings, linkDomains, pairHash, words } from './tokenize.js';

const msg = (head: string, body: string) => Buffer.from(`${head}\r\n\r\n${body}\r\n`);

describe('classifier features', () => {
  it('reads decoded words, OSB pairs, the From domain, Subject words, header presence and link domains', () => {
    const message = msg(
      'From: "Shop" <deals@Shop.Example>\r\nSubject: =?utf-8?q?Gro=C3=9Fe_Rabatte?=\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable',
      '<p>Buy <b>cheap</b> w=C3=A4tches at <a href=3D"http://www.shop.example/x">here</a> http://www.Shop.Example/y</p>',
    );
    const f = featureStrings(message);
    for (const want of [
      'from:shop.example',
      'subj:große',
      'subj:rabatte',
      'no:mime-version',
      'no:message-id',
      'ctype:text/html',
      'buy',
      'cheap',
      'wätches',
      'url:shop.example',
    ])
      assert.ok(f.includes(want), `${want} in ${f.join(' ')}`);
    const hashes = new Set(features(message));
    const pair = (a: string, k: number, b: string) => hashes.has(pairHash(featureHash(a), k, featureHash(b)));
    assert.ok(
      pair('buy', 1, 'cheap') && pair('buy', 2, 'wätches') && !pair('buy', 1, 'wätches'),
      'pairs with their distance',
    );
    for (const want of [
      'tag:p',
      'tag:a',
      'attr:a:href',
      'part:text/html',
      'enc:text/html:quoted-printable',
      'charset:utf-8',
    ])
      assert.ok(f.includes(want), `${want} in ${f.join(' ')}`);
  });

  it('bounds words and hashes to 53-bit integers', () => {
    assert.deepEqual(words('a bb ' + 'x'.repeat(40)), ['bb', 'long:xxx:5']);
    assert.equal(words('ww '.repeat(10), 3).length, 3);
    const h = featureHash('hello');
    assert.ok(Number.isSafeInteger(h) && h >= 0);
    assert.notEqual(h, featureHash('hellp'));
    assert.deepEqual(linkDomains('see https://a.example. and HTTP://WWW.B.example/x'), ['a.example', 'b.example']);
  });

  it('cuts Chinese and Japanese text into overlapping pairs of characters', () => {
    assert.deepEqual(words('免费发票 ok 字'), ['免费', '费发', '发票', 'ok', '字']);
    assert.deepEqual(words('abcお得な情報'), ['abc', 'お得', '得な', 'な情', '情報']);
    // Korean is written with spaces: its words stay words.
    assert.deepEqual(words('무료 상담'), ['무료', '상담']);
  });

  it('reads unlabelled 8-bit Chinese text, which a US-ASCII part would turn into nothing', () => {
    const gb = Buffer.from([0xc3, 0xe2, 0xb7, 0xd1, 0xb7, 0xa2, 0xc6, 0xb1, 0xb4, 0xfa, 0xbf, 0xaa]); // 免费发票代开 in GB2312
    const msg = Buffer.concat([Buffer.from('From: a@b.example\r\nSubject: x\r\n\r\n'), gb, Buffer.from('\r\n')]);
    const f = featureStrings(msg);
    for (const want of ['免费', '发票', '代开']) assert.ok(f.includes(want), `${want} in ${f.join(' ')}`);
  });

  it('identifies a message by body and Message-ID, whatever fields are added on top', () => {
    const m = msg('Message-ID: <1@x>\r\nSubject: s', 'body');
    assert.equal(
      messageDigest(Buffer.concat([Buffer.from('X-Spam-Score: 1\r\nReceived: by y\r\n'), m])),
      messageDigest(m),
    );
    assert.notEqual(messageDigest(msg('Message-ID: <2@x>\r\nSubject: s', 'body')), messageDigest(m));
  });
});

describe('classifier model', () => {
  it('combines clues with Fisher chi-square: spam clues near 1, ham clues near 0, nothing known 0.5', () => {
    const totals = { spam: 10, ham: 10 };
    const spam = Array.from({ length: 20 }, () => ({ spam: 9, ham: 0 }));
    const ham = Array.from({ length: 20 }, () => ({ spam: 0, ham: 9 }));
    assert.ok(bayesProbability(spam, totals) > 0.99);
    assert.ok(bayesProbability(ham, totals) < 0.01);
    assert.equal(bayesProbability([], totals), 0.5);
    assert.equal(bayesProbability(spam, { spam: 0, ham: 10 }), 0.5);
    assert.ok(Math.abs(chi2Q(2, 2) - Math.exp(-1)) < 1e-12);
  });

  it('reports BAYES_SPAM up to +6 from p = 0.5 and BAYES_HAM down to -3 from p = 0.45, nothing in between', () => {
    assert.equal(probabilitySymbol(1)?.name, 'BAYES_SPAM');
    assert.equal(probabilitySymbol(1)?.score, 6);
    assert.ok(probabilitySymbol(0.6)!.score < 2);
    assert.equal(probabilitySymbol(0.9)?.score, 5, 'junk from p = 0.9');
    assert.equal(probabilitySymbol(0.5)?.score, 0.5);
    assert.equal(probabilitySymbol(0.47), undefined);
    assert.equal(probabilitySymbol(0.45)?.score, -0.1);
    assert.equal(probabilitySymbol(0)?.name, 'BAYES_HAM');
    assert.equal(probabilitySymbol(0)?.score, -3);
  });
});
