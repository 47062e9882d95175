import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationCommandOptionType, ApplicationCommandType, GatewayCloseCodes, GatewayIntentBits, GatewayOpcodes } from 'discord.js';
import { WebSocket } from 'ws';
import { DiscordEmulator } from './support/discordEmulator.ts';

// The emulator on its own, with a bare WebSocket and fetch: it must answer as Discord does (payload
// shapes, error codes, close codes), or the bot tests would prove nothing.

interface GatewayClient {
  ws: WebSocket;
  next(): Promise<{ op: number; t: string | null; s: number | null; d: any }>;
  closed: Promise<number>;
  send(payload: object): void;
}

function connect(url: string): Promise<GatewayClient> {
  const ws = new WebSocket(url);
  const queue: any[] = [];
  const waiting: ((p: any) => void)[] = [];
  ws.on('message', (raw) => {
    const payload = JSON.parse(String(raw));
    const w = waiting.shift();
    if (w) w(payload);
    else queue.push(payload);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))),
        send: (payload) => ws.send(JSON.stringify(payload)),
      }),
    );
  });
}

let emu: DiscordEmulator;
const api = (path: string, init: RequestInit & { auth?: boolean } = {}) =>
  fetch(`${emu.apiUrl}/v10${path}`, {
    ...init,
    headers: { ...(init.auth === false ? {} : { authorization: `Bot ${emu.token}` }), ...(init.body && typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });

before(async () => {
  emu = await DiscordEmulator.start({ heartbeatIntervalMs: 45_000 });
});
after(() => emu?.close());

describe('gateway', () => {
  test('hello, identify, ready with the guilds, guild create, heartbeat ack', async () => {
    const guild = emu.createGuild('Gateway Test');
    const { url } = (await (await api('/gateway/bot')).json()) as { url: string };
    assert.equal(url, emu.gatewayUrl);
    const gw = await connect(`${url}?v=10&encoding=json`);
    const hello = await gw.next();
    assert.equal(hello.op, GatewayOpcodes.Hello);
    assert.equal(hello.d.heartbeat_interval, 45_000);
    gw.send({ op: GatewayOpcodes.Identify, d: { token: emu.token, intents: GatewayIntentBits.Guilds, properties: { os: 'linux', browser: 'test', device: 'test' } } });
    const ready = await gw.next();
    assert.deepEqual([ready.op, ready.t, ready.s], [GatewayOpcodes.Dispatch, 'READY', 1]);
    assert.equal(ready.d.user.id, emu.botUser.id);
    assert.equal(ready.d.application.id, emu.applicationId);
    assert.deepEqual(ready.d.guilds, [{ id: guild.id, unavailable: true }]);
    const create = await gw.next();
    assert.deepEqual([create.t, create.s, create.d.id, create.d.name], ['GUILD_CREATE', 2, guild.id, 'Gateway Test']);
    assert.deepEqual(create.d.members.map((m: any) => m.user.id), [emu.botUser.id], 'without the members intent only the bot itself');
    gw.send({ op: GatewayOpcodes.Heartbeat, d: 2 });
    assert.equal((await gw.next()).op, GatewayOpcodes.HeartbeatAck);
    gw.ws.close(1000);
    await gw.closed;
  });

  test('close codes: bad token 4004, privileged intent 4014, payload before identify 4003, wrong version 4012', async () => {
    const attempt = async (query: string, payload?: object) => {
      const gw = await connect(`${emu.gatewayUrl}?${query}`);
      if (payload) {
        await gw.next();
        gw.send(payload);
      }
      return gw.closed;
    };
    assert.equal(await attempt('v=10&encoding=json', { op: 2, d: { token: 'x.y.z', intents: 1, properties: {} } }), GatewayCloseCodes.AuthenticationFailed);
    assert.equal(await attempt('v=10&encoding=json', { op: 2, d: { token: emu.token, intents: GatewayIntentBits.MessageContent, properties: {} } }), GatewayCloseCodes.DisallowedIntents);
    assert.equal(await attempt('v=10&encoding=json', { op: 3, d: { status: 'online' } }), GatewayCloseCodes.NotAuthenticated);
    assert.equal(await attempt('v=9&encoding=json'), GatewayCloseCodes.InvalidAPIVersion);
    assert.equal(await attempt('v=10&encoding=etf'), GatewayCloseCodes.DecodeError);
  });
});

describe('REST', () => {
  test('bot routes need the token; unknown routes are 404 with a JSON body', async () => {
    assert.equal((await api('/gateway/bot', { auth: false })).status, 401);
    assert.deepEqual(await (await api('/users/@me')).json(), emu.botUser);
    const missing = await api('/channels/1/messages');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { message: '404: Not Found', code: 0 });
  });

  test('bulk overwrite validates like Discord and keeps the ids of commands that stay', async () => {
    const route = `/applications/${emu.applicationId}/commands`;
    const put = (body: unknown) => api(route, { method: 'PUT', body: JSON.stringify(body) });
    const bad = await put([{ name: 'LookAlike', description: 'upper case' }]);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: number }).code, 50035);
    assert.equal((await put([{ name: 'Find it', type: ApplicationCommandType.Message, description: 'no' }])).status, 400, 'context menus take no description');
    const required = [{ name: 'x', description: 'x', options: [{ type: 3, name: 'a', description: 'a' }, { type: 3, name: 'b', description: 'b', required: true }] }];
    assert.equal((await put(required)).status, 400, 'required options come first');
    const first = (await (await put([{ name: 'one', description: 'One' }])).json()) as { id: string }[];
    const second = (await (await put([{ name: 'one', description: 'One again' }, { name: 'two', description: 'Two', options: [{ type: ApplicationCommandOptionType.Attachment, name: 'f', description: 'f' }] }])).json()) as { id: string; name: string }[];
    assert.equal(second.find((c) => c.name === 'one')!.id, first[0]!.id);
    assert.deepEqual(emu.globalCommands.map((c) => c.name), ['one', 'two']);
  });
});

describe('interactions', () => {
  test('acknowledge once, within the window; webhooks only after; empty messages refused; files served with a signed URL', async () => {
    await api(`/applications/${emu.applicationId}/commands`, { method: 'PUT', body: JSON.stringify([{ name: 'ping', description: 'Ping' }]) });
    const guild = emu.createGuild('Interactions');
    const user = await emu.createUser({ username: 'tess' });
    await emu.addMember(guild, user);
    const gw = await connect(`${emu.gatewayUrl}?v=10&encoding=json`);
    await gw.next();
    gw.send({ op: 2, d: { token: emu.token, intents: 1, properties: {} } });
    while ((await gw.next()).t !== 'READY');
    const ix = await emu.slashCommand(guild, user, 'ping');
    let dispatched;
    do dispatched = await gw.next();
    while (dispatched.t !== 'INTERACTION_CREATE');
    assert.equal(dispatched.d.id, ix.id);
    assert.equal(dispatched.d.member.user.id, user.id);
    assert.equal(dispatched.d.data.name, 'ping');

    const webhook = `/webhooks/${emu.applicationId}/${ix.token}`;
    assert.equal(((await (await api(webhook, { method: 'POST', auth: false, body: JSON.stringify({ content: 'early' }) })).json()) as { code: number }).code, 10015);
    const callback = `/interactions/${ix.id}/${ix.token}/callback`;
    assert.equal((await api(callback, { method: 'POST', auth: false, body: JSON.stringify({ type: 5 }) })).status, 204);
    const again = await api(callback, { method: 'POST', auth: false, body: JSON.stringify({ type: 4, data: { content: 'x' } }) });
    assert.equal(((await again.json()) as { code: number }).code, 40060);
    const empty = await api(`${webhook}/messages/@original`, { method: 'PATCH', auth: false, body: JSON.stringify({ content: '' }) });
    assert.equal(((await empty.json()) as { code: number }).code, 50006);

    const form = new FormData();
    form.append('payload_json', JSON.stringify({ content: 'here', attachments: [{ id: 0, filename: 'hi.txt' }] }));
    form.append('files[0]', new Blob([Buffer.from('hello')], { type: 'text/plain' }), 'hi.txt');
    const edited = (await (await fetch(`${emu.apiUrl}/v10${webhook}/messages/@original`, { method: 'PATCH', body: form })).json()) as { attachments: { url: string; filename: string }[] };
    const answer = await emu.answerTo(ix);
    assert.equal(answer.via, 'edit');
    assert.equal(answer.files[0]!.bytes.toString(), 'hello');
    assert.equal(await (await fetch(edited.attachments[0]!.url)).text(), 'hello');
    const unsigned = edited.attachments[0]!.url.split('?')[0]!;
    assert.equal((await fetch(unsigned)).status, 404, 'attachment links need their signature');

    const late = await emu.slashCommand(guild, user, 'ping');
    emu.interactionAckMs = 0;
    await new Promise((r) => setTimeout(r, 5));
    const expired = await api(`/interactions/${late.id}/${late.token}/callback`, { method: 'POST', auth: false, body: JSON.stringify({ type: 5 }) });
    emu.interactionAckMs = 3000;
    assert.equal(((await expired.json()) as { code: number }).code, 10062);
    gw.ws.close(1000);
    await gw.closed;
  });
});
