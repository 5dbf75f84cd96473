// The driver matrix scenario with node-postgres (drivertest/node_test.go).
// Reads the SCENARIO_* environment, prints one line per step, and cancels
// its sleeping statement when a line arrives on standard input.
'use strict'
const fs = require('fs')
const readline = require('readline')
const { Client } = require('pg')

const env = process.env
const emit = (line) => process.stdout.write(line + '\n')

function config (password) {
  return {
    host: env.SCENARIO_HOST,
    port: Number(env.SCENARIO_PORT),
    user: env.SCENARIO_USER,
    password,
    database: env.SCENARIO_DATABASE,
    application_name: env.SCENARIO_APP,
    // verify-full: the CA file, and the host name checked (Node's default).
    ssl: { ca: fs.readFileSync(env.SCENARIO_ROOTCERT), rejectUnauthorized: true },
    // SCRAM-SHA-256-PLUS when the server offers it.
    enableChannelBinding: true
  }
}

async function one (client) {
  const r = await client.query('SELECT 1 AS n')
  return r.rows[0].n
}

async function main () {
  const client = new Client(config(env.SCENARIO_PASSWORD))
  await client.connect()
  emit('connected')
  const bad = new Client(config(env.SCENARIO_PASSWORD + '-wrong'))
  try {
    await bad.connect()
    emit('bad password: accepted')
  } catch (e) {
    emit('bad password: ' + e.code)
  }

  // A named query is prepared on the server once, then executed by name.
  const id = env.SCENARIO_PREPARED_ID
  await client.query({ name: 'ins', text: 'INSERT INTO customers (id, name) VALUES ($1, $2)', values: [id, env.SCENARIO_NAME] })
  const r = await client.query({ name: 'sel', text: 'SELECT name FROM customers WHERE id = $1', values: [id] })
  emit('prepared: ' + r.rows[0].name)

  const ids = [env.SCENARIO_TXN_ID1, env.SCENARIO_TXN_ID2]
  for (const end of ['rollback', 'commit']) {
    await client.query('BEGIN')
    for (const i of ids) {
      await client.query("INSERT INTO customers (id, name) VALUES ($1, 'txn')", [i])
    }
    await client.query(end.toUpperCase())
    const c = await client.query('SELECT count(*)::int AS n FROM customers WHERE id = ANY($1)', [ids])
    emit(end + ': ' + c.rows[0].n)
  }

  try {
    await client.query('SELECT 1/0')
  } catch (e) {
    emit('error: ' + e.code)
  }
  emit('recovered: ' + await one(client))
  await client.query('BEGIN')
  await client.query('SELECT 1/0').catch(() => {})
  try {
    await one(client)
  } catch (e) {
    emit('aborted: ' + e.code)
  }
  await client.query('ROLLBACK')
  emit('after rollback: ' + await one(client))

  const input = readline.createInterface({ input: process.stdin })
  input.once('line', () => {
    // node-postgres cancels through a second client that sends the
    // CancelRequest for the first one's running query.
    new Client(config(env.SCENARIO_PASSWORD)).cancel(client, client.activeQuery)
    input.close()
  })
  emit('sleeping')
  try {
    await client.query('SELECT pg_sleep(60)')
    emit('cancel: not canceled')
  } catch (e) {
    emit('cancel: ' + e.code)
  }
  emit('after cancel: ' + await one(client))
  await client.end()
  process.stdin.destroy() // nothing more to read: let the process end
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
