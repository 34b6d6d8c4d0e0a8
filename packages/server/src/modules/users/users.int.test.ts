import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AuditPageSchema,
  GroupPageSchema,
  GroupSchema,
  OkSchema,
  UserImportResultSchema,
  UserPageSchema,
  UserSchema,
  type User,
} from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

const ADMIN_EMAIL = 'people-admin@example.com';

describe('users and groups', () => {
  let t: TestEnclave;
  let token: string;

  const createGroup = async (name: string, description?: string) =>
    assertBody(
      await t.inject('POST', '/api/v1/groups', {
        token,
        body: { name, ...(description !== undefined ? { description } : {}) },
      }),
      201,
      GroupSchema,
    );
  const createUser = async (email: string, name: string, groups?: string[]) =>
    assertBody(
      await t.inject('POST', '/api/v1/users', {
        token,
        body: { email, name, ...(groups ? { groups } : {}) },
      }),
      201,
      UserSchema,
    );
  const getUser = async (id: string) =>
    assertBody(await t.inject('GET', `/api/v1/users/${id}`, { token }), 200, UserSchema);
  const listUsers = async (query: string) =>
    assertBody(await t.inject('GET', `/api/v1/users?${query}`, { token }), 200, UserPageSchema);
  const emails = (users: User[]) => users.map((u) => u.email);
  const importCsv = (csv: string) =>
    t.inject('POST', '/api/v1/users/import', {
      token,
      payload: csv,
      headers: { 'content-type': 'text/csv' },
    });

  before(async () => {
    t = await testEnclave();
    // An Enterprise Administrator holds users:write and groups:write, as in a real deployment.
    token = await t.adminToken('enterprise-admin', ADMIN_EMAIL);
  });
  after(() => t.close());

  describe('POST /api/v1/users', () => {
    before(async () => {
      await createGroup('crud-eng');
      await createGroup('crud-ops');
    });

    it('creates a user with a normalised email, its groups and no devices', async () => {
      const user = await createUser('  Alice.Crud@Example.COM ', 'Alice Crud', ['crud-eng', 'crud-ops']);
      assert.equal(user.email, 'alice.crud@example.com');
      assert.equal(user.name, 'Alice Crud');
      assert.deepEqual(user.groups, ['crud-eng', 'crud-ops']);
      assert.equal(user.deviceCount, 0);
      assert.deepEqual(await getUser(user.id), user);
    });

    it('creates a user without groups', async () => {
      const user = await createUser('nogroups@example.com', 'No Groups');
      assert.deepEqual(user.groups, []);
    });

    it('rejects a duplicate email with 409 email_taken, whatever its case', async () => {
      await createUser('dup.crud@example.com', 'First');
      assertError(
        await t.inject('POST', '/api/v1/users', {
          token,
          body: { email: 'dup.crud@example.com', name: 'Second' },
        }),
        409,
        'email_taken',
      );
      assertError(
        await t.inject('POST', '/api/v1/users', {
          token,
          body: { email: 'DUP.Crud@example.com', name: 'Third' },
        }),
        409,
        'email_taken',
      );
      const page = await listUsers('q=dup.crud');
      assert.equal(page.total, 1);
      assert.equal(page.items[0]?.name, 'First');
    });

    it('rejects an unknown group with 400 group_not_found naming it, and creates nobody', async () => {
      const err = assertError(
        await t.inject('POST', '/api/v1/users', {
          token,
          body: { email: 'ghost@example.com', name: 'Ghost', groups: ['crud-eng', 'no-such-group'] },
        }),
        400,
        'group_not_found',
      );
      assert.match(err.message, /no-such-group/);
      assert.equal((await listUsers('q=ghost@example.com')).total, 0);
    });

    it('rejects an invalid email and an empty name with 400 validation_failed', async () => {
      const err = assertError(
        await t.inject('POST', '/api/v1/users', { token, body: { email: 'not-an-email', name: '  ' } }),
        400,
        'validation_failed',
      );
      assert.deepEqual((err.details ?? []).map((d) => d.path).sort(), ['body.email', 'body.name']);
    });
  });

  describe('GET /api/v1/users/:id', () => {
    it('answers an unknown id with 404 not_found', async () => {
      assertError(await t.inject('GET', `/api/v1/users/${randomUUID()}`, { token }), 404, 'not_found');
    });
  });

  describe('PATCH /api/v1/users/:id', () => {
    let user: User;

    before(async () => {
      await createGroup('patch-a');
      await createGroup('patch-b');
      user = await createUser('patch.me@example.com', 'Patch Me', ['patch-a']);
      await createUser('patch.other@example.com', 'Patch Other');
    });

    it('changes the email, the name and the groups', async () => {
      const updated = assertBody(
        await t.inject('PATCH', `/api/v1/users/${user.id}`, {
          token,
          body: { email: 'Patched@Example.com', name: 'Patched', groups: ['patch-b', 'patch-a'] },
        }),
        200,
        UserSchema,
      );
      assert.equal(updated.email, 'patched@example.com');
      assert.equal(updated.name, 'Patched');
      assert.deepEqual(updated.groups, ['patch-a', 'patch-b']);
      assert.equal(updated.createdAt, user.createdAt);
      assert.deepEqual(await getUser(user.id), updated);
      assert.equal((await listUsers('q=patch.me@')).total, 0, 'the old email still finds the user');
    });

    it('leaves the fields it is not given alone', async () => {
      const updated = assertBody(
        await t.inject('PATCH', `/api/v1/users/${user.id}`, { token, body: { name: 'Only The Name' } }),
        200,
        UserSchema,
      );
      assert.equal(updated.email, 'patched@example.com');
      assert.deepEqual(updated.groups, ['patch-a', 'patch-b']);
      assert.equal(updated.name, 'Only The Name');
    });

    it('removes every group with an empty list', async () => {
      const updated = assertBody(
        await t.inject('PATCH', `/api/v1/users/${user.id}`, { token, body: { groups: [] } }),
        200,
        UserSchema,
      );
      assert.deepEqual(updated.groups, []);
      assert.deepEqual((await getUser(user.id)).groups, []);
    });

    it("rejects taking another user's email with 409 email_taken and changes nothing", async () => {
      assertError(
        await t.inject('PATCH', `/api/v1/users/${user.id}`, {
          token,
          body: { email: 'patch.other@example.com', name: 'Thief' },
        }),
        409,
        'email_taken',
      );
      const now = await getUser(user.id);
      assert.equal(now.email, 'patched@example.com');
      assert.equal(now.name, 'Only The Name');
    });

    it('rejects an unknown group with 400 group_not_found and keeps the old groups', async () => {
      await t.inject('PATCH', `/api/v1/users/${user.id}`, { token, body: { groups: ['patch-a'] } });
      assertError(
        await t.inject('PATCH', `/api/v1/users/${user.id}`, { token, body: { groups: ['patch-b', 'nope'] } }),
        400,
        'group_not_found',
      );
      assert.deepEqual((await getUser(user.id)).groups, ['patch-a']);
    });

    it('answers an unknown id with 404 not_found', async () => {
      assertError(
        await t.inject('PATCH', `/api/v1/users/${randomUUID()}`, { token, body: { name: 'Nobody' } }),
        404,
        'not_found',
      );
    });
  });

  describe('DELETE /api/v1/users/:id', () => {
    it('deletes the user, then answers 404, and frees the email', async () => {
      await createGroup('delete-grp');
      const user = await createUser('delete.me@example.com', 'Delete Me', ['delete-grp']);
      assertBody(await t.inject('DELETE', `/api/v1/users/${user.id}`, { token }), 200, OkSchema);
      assertError(await t.inject('GET', `/api/v1/users/${user.id}`, { token }), 404, 'not_found');
      assertError(await t.inject('DELETE', `/api/v1/users/${user.id}`, { token }), 404, 'not_found');
      assert.equal((await listUsers('q=delete.me@')).total, 0);
      const again = await createUser('delete.me@example.com', 'Delete Me Again');
      assert.notEqual(again.id, user.id);
      assert.deepEqual(again.groups, [], 'the old memberships came back with the email');
    });
  });

  describe('GET /api/v1/users', () => {
    before(async () => {
      await createGroup('search-red');
      await createGroup('search-blue');
      await createUser('anna.schmidt@search.example', 'Anna Schmidt', ['search-red']);
      await createUser('bob.jones@search.example', 'Robert Jones', ['search-red', 'search-blue']);
      await createUser('carla.diaz@search.example', 'Carla DÍAZ', ['search-blue']);
      await createUser('dan_fox@search.example', 'Dan Fox');
      await createUser('danxfox@search.example', 'Dan X Fox');
    });

    it('finds users by part of their email, ignoring case', async () => {
      assert.deepEqual(emails((await listUsers('q=BOB.JON')).items), ['bob.jones@search.example']);
    });

    it('finds users by part of their name, ignoring case', async () => {
      assert.deepEqual(emails((await listUsers('q=schMIDT')).items), ['anna.schmidt@search.example']);
      assert.deepEqual(emails((await listUsers('q=robert')).items), ['bob.jones@search.example']);
    });

    it('treats _ and % in the search text as plain characters', async () => {
      assert.deepEqual(emails((await listUsers('q=dan_fox')).items), ['dan_fox@search.example']);
      assert.equal((await listUsers(`q=${encodeURIComponent('%@search')}`)).total, 0);
    });

    it('returns nothing for a search that matches no one', async () => {
      const page = await listUsers('q=zzz-nobody');
      assert.deepEqual(page.items, []);
      assert.equal(page.total, 0);
    });

    it('filters by group name', async () => {
      assert.deepEqual(emails((await listUsers('group=search-red')).items), [
        'anna.schmidt@search.example',
        'bob.jones@search.example',
      ]);
      assert.deepEqual(emails((await listUsers('group=search-blue&q=carla')).items), [
        'carla.diaz@search.example',
      ]);
      assert.equal((await listUsers('group=no-such-group')).total, 0);
    });

    it('pages with limit and offset, ordered by email, and reports the total', async () => {
      const all = ['anna.schmidt', 'bob.jones', 'carla.diaz', 'dan_fox', 'danxfox'].map(
        (e) => `${e}@search.example`,
      );
      const first = await listUsers('q=@search.example&limit=2');
      assert.equal(first.total, 5);
      assert.equal(first.limit, 2);
      assert.equal(first.offset, 0);
      assert.deepEqual(emails(first.items), all.slice(0, 2));
      const second = await listUsers('q=@search.example&limit=2&offset=2');
      assert.deepEqual(emails(second.items), all.slice(2, 4));
      assert.equal(second.total, 5);
      const last = await listUsers('q=@search.example&limit=2&offset=4');
      assert.deepEqual(emails(last.items), all.slice(4));
      const beyond = await listUsers('q=@search.example&limit=2&offset=10');
      assert.deepEqual(beyond.items, []);
      assert.equal(beyond.total, 5);
    });

    it('defaults to 50 per page', async () => {
      const page = await listUsers('');
      assert.equal(page.limit, 50);
      assert.equal(page.offset, 0);
      assert.ok(page.total >= 5);
    });
  });

  describe('POST /api/v1/users/import', () => {
    before(async () => {
      await createGroup('csv-eng');
      await createGroup('csv-ops');
      await createUser('existing@csv.example', 'Existing');
    });

    it('imports the good rows and reports each bad row by its spreadsheet row number', async () => {
      const csv = [
        'email,name,groups', // row 1
        'ann@csv.example,Ann Able,csv-eng;csv-ops', // 2: good
        'not-an-email,Bad Email,', // 3: invalid email
        'existing@csv.example,Already There,', // 4: duplicate of an existing user
        'carl@csv.example,Carl,csv-eng;no-such-group', // 5: unknown group
        '"dora@csv.example","Doe, Dora", csv-eng ', // 6: good, quoted comma
        'ANN@csv.example,Ann Again,', // 7: duplicate within the file
        ',No Email,', // 8: no email
      ].join('\n');
      const result = assertBody(await importCsv(csv), 200, UserImportResultSchema);
      assert.equal(result.imported, 2);
      assert.equal(result.failed, 5);
      assert.deepEqual(
        result.errors.map((e) => [e.row, e.code]),
        [
          [3, 'validation_failed'],
          [4, 'email_taken'],
          [5, 'group_not_found'],
          [7, 'email_taken'],
          [8, 'validation_failed'],
        ],
      );
      assert.equal(result.errors.find((e) => e.row === 3)?.email, 'not-an-email');
      assert.match(result.errors.find((e) => e.row === 5)?.message ?? '', /no-such-group/);

      const ann = (await listUsers('q=ann@csv.example')).items;
      assert.equal(ann.length, 1);
      assert.equal(ann[0]?.name, 'Ann Able');
      assert.deepEqual(ann[0]?.groups, ['csv-eng', 'csv-ops']);
      const dora = (await listUsers('q=dora@csv.example')).items;
      assert.equal(dora[0]?.name, 'Doe, Dora');
      assert.deepEqual(dora[0]?.groups, ['csv-eng']);
      assert.equal((await listUsers('q=carl@csv.example')).total, 0);
      assert.equal((await listUsers('q=existing@csv.example')).items[0]?.name, 'Existing');
    });

    it('counts blank lines as rows, as a spreadsheet does', async () => {
      const csv = 'email,name,groups\nblank1@csv.example,Blank One,\n\nblank-bad,Blank Bad,\n';
      const result = assertBody(await importCsv(csv), 200, UserImportResultSchema);
      assert.equal(result.imported, 1);
      assert.deepEqual(
        result.errors.map((e) => e.row),
        [4],
      );
    });

    it('reads an Excel export: BOM, CRLF line endings, columns in another order and case', async () => {
      const csv = '\uFEFFName,Groups,EMAIL\r\nExcel Erin,csv-ops,erin@csv.example\r\n';
      const result = assertBody(await importCsv(csv), 200, UserImportResultSchema);
      assert.deepEqual(result, { imported: 1, failed: 0, errors: [] });
      const erin = (await listUsers('q=erin@csv.example')).items[0];
      assert.equal(erin?.name, 'Excel Erin');
      assert.deepEqual(erin?.groups, ['csv-ops']);
    });

    it('rejects a CSV without the header row with 400 validation_failed and imports nothing', async () => {
      assertError(await importCsv('headless@csv.example,Headless,csv-eng\n'), 400, 'validation_failed');
      assert.equal((await listUsers('q=headless@csv.example')).total, 0);
    });

    it('rejects an empty body with 400 validation_failed', async () => {
      assertError(await importCsv(''), 400, 'validation_failed');
    });
  });

  describe('groups', () => {
    it('POST /api/v1/groups creates a group with no members', async () => {
      const group = await createGroup('grp-new', 'A new group');
      assert.equal(group.name, 'grp-new');
      assert.equal(group.description, 'A new group');
      assert.equal(group.memberCount, 0);
      assert.deepEqual(
        assertBody(await t.inject('GET', `/api/v1/groups/${group.id}`, { token }), 200, GroupSchema),
        group,
      );
      assert.equal((await createGroup('grp-nodesc')).description, '');
    });

    it('POST /api/v1/groups rejects a duplicate name with 409 group_name_taken', async () => {
      await createGroup('grp-dup');
      assertError(
        await t.inject('POST', '/api/v1/groups', { token, body: { name: 'grp-dup' } }),
        409,
        'group_name_taken',
      );
      const page = assertBody(
        await t.inject('GET', '/api/v1/groups?q=grp-dup', { token }),
        200,
        GroupPageSchema,
      );
      assert.equal(page.total, 1);
    });

    it('counts members in memberCount, in the list and on the group', async () => {
      const group = await createGroup('grp-count');
      const a = await createUser('count.a@grp.example', 'Count A', ['grp-count']);
      await createUser('count.b@grp.example', 'Count B', ['grp-count']);
      const one = () => t.inject('GET', `/api/v1/groups/${group.id}`, { token });
      assert.equal(assertBody(await one(), 200, GroupSchema).memberCount, 2);
      const listed = assertBody(
        await t.inject('GET', '/api/v1/groups?q=grp-count', { token }),
        200,
        GroupPageSchema,
      );
      assert.deepEqual(
        listed.items.map((g) => [g.name, g.memberCount]),
        [['grp-count', 2]],
      );
      await t.inject('PATCH', `/api/v1/users/${a.id}`, { token, body: { groups: [] } });
      assert.equal(assertBody(await one(), 200, GroupSchema).memberCount, 1);
    });

    it('PATCH /api/v1/groups/:id renames a group, and its members show the new name', async () => {
      const group = await createGroup('grp-old-name');
      const member = await createUser('rename.member@grp.example', 'Rename Member', ['grp-old-name']);
      const renamed = assertBody(
        await t.inject('PATCH', `/api/v1/groups/${group.id}`, { token, body: { name: 'grp-new-name' } }),
        200,
        GroupSchema,
      );
      assert.equal(renamed.name, 'grp-new-name');
      assert.equal(renamed.memberCount, 1);
      assert.deepEqual((await getUser(member.id)).groups, ['grp-new-name']);
      assert.equal((await listUsers('group=grp-old-name')).total, 0);
      assert.deepEqual(emails((await listUsers('group=grp-new-name')).items), ['rename.member@grp.example']);
    });

    it('PATCH /api/v1/groups/:id rejects a name in use with 409 group_name_taken and keeps the old name', async () => {
      await createGroup('grp-taken');
      const group = await createGroup('grp-mine');
      assertError(
        await t.inject('PATCH', `/api/v1/groups/${group.id}`, { token, body: { name: 'grp-taken' } }),
        409,
        'group_name_taken',
      );
      assert.equal(
        assertBody(await t.inject('GET', `/api/v1/groups/${group.id}`, { token }), 200, GroupSchema).name,
        'grp-mine',
      );
    });

    it('DELETE /api/v1/groups/:id deletes the group and keeps its users', async () => {
      const group = await createGroup('grp-doomed');
      await createGroup('grp-survivor');
      const member = await createUser('doomed.member@grp.example', 'Doomed Member', [
        'grp-doomed',
        'grp-survivor',
      ]);
      assertBody(await t.inject('DELETE', `/api/v1/groups/${group.id}`, { token }), 200, OkSchema);
      assertError(await t.inject('GET', `/api/v1/groups/${group.id}`, { token }), 404, 'not_found');
      const after = await getUser(member.id);
      assert.equal(after.email, 'doomed.member@grp.example');
      assert.deepEqual(after.groups, ['grp-survivor']);
      assert.equal((await listUsers('group=grp-doomed')).total, 0);
      // The name is free again, and the new group starts empty.
      assert.equal((await createGroup('grp-doomed')).memberCount, 0);
    });

    it('GET /api/v1/groups finds groups by part of their name, ignoring case, with _ taken literally', async () => {
      await createGroup('Team_Red');
      await createGroup('TeamXRed');
      const page = assertBody(
        await t.inject('GET', '/api/v1/groups?q=team_RED', { token }),
        200,
        GroupPageSchema,
      );
      assert.deepEqual(
        page.items.map((g) => g.name),
        ['Team_Red'],
      );
      assert.equal(page.total, 1);
    });

    it('answers an unknown group id with 404 not_found', async () => {
      assertError(await t.inject('GET', `/api/v1/groups/${randomUUID()}`, { token }), 404, 'not_found');
      assertError(
        await t.inject('PATCH', `/api/v1/groups/${randomUUID()}`, { token, body: { name: 'x' } }),
        404,
        'not_found',
      );
      assertError(await t.inject('DELETE', `/api/v1/groups/${randomUUID()}`, { token }), 404, 'not_found');
    });
  });

  describe('GET /api/v1/audit', () => {
    it('records user.created for users made by the API and by the CSV import, with who did it', async () => {
      await createUser('audited@example.com', 'Audited');
      assertBody(
        await importCsv('email,name\naudited.csv@example.com,Audited CSV\n'),
        200,
        UserImportResultSchema,
      );
      const securityAdmin = await t.adminToken('security-admin');
      const page = assertBody(
        await t.inject('GET', '/api/v1/audit?action=user.created&limit=500', { token: securityAdmin }),
        200,
        AuditPageSchema,
      );
      assert.ok(page.items.every((e) => e.action === 'user.created'));
      const api = page.items.find((e) => e.target === 'audited@example.com');
      const csv = page.items.find((e) => e.target === 'audited.csv@example.com');
      assert.ok(api, 'no user.created entry for the API-created user');
      assert.ok(csv, 'no user.created entry for the CSV-imported user');
      for (const e of [api, csv]) {
        assert.equal(e.actorType, 'admin');
        assert.equal(e.actorLabel, ADMIN_EMAIL);
        assert.equal(e.outcome, 'success');
      }
      assert.equal(api.details.via, 'api');
      assert.equal(csv.details.via, 'csv');
      // Failed rows and rejected requests leave no user.created entry.
      assert.equal(
        page.items.filter((e) => e.target === 'ghost@example.com' || e.target === 'not-an-email').length,
        0,
      );
    });
  });
});
