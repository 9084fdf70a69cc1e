#!/usr/bin/env node
// Removes what one scripts/postman.sh run created: its database and its RabbitMQ exchange and
// queues (the gateway declares <exchange>, <exchange>.dlx, <exchange>.dead and the two lane
// queues). Best effort: reports what it could not remove and exits 0 either way.
//
// Usage: node postman/cleanup.js --database-url URL --amqp-url URL --exchange E --queue Q...
'use strict';

const args = { queue: [] };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
  const value = process.argv[i + 1];
  if (key === 'queue') args.queue.push(value);
  else args[key] = value;
}
const say = (msg) => console.log(`postman: ${msg}`);

async function dropDatabase(url) {
  const mysql = require('mysql2/promise');
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing to drop database ${JSON.stringify(name)}`);
  const conn = await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password || ''),
    connectTimeout: 5000,
  });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
  say(`dropped database ${name}`);
}

async function deleteTopology(url, exchange, queues) {
  const amqp = require('amqplib');
  const conn = await amqp.connect(url, { timeout: 5000 });
  try {
    const ch = await conn.createChannel();
    for (const q of [...queues, `${exchange}.dead`]) await ch.deleteQueue(q);
    for (const e of [exchange, `${exchange}.dlx`]) await ch.deleteExchange(e);
    await ch.close();
  } finally {
    await conn.close();
  }
  say(`deleted exchange ${exchange} and its queues`);
}

(async () => {
  if (args.databaseUrl) {
    await dropDatabase(args.databaseUrl).catch((e) => say(`could not drop the database: ${e.message}`));
  }
  if (args.amqpUrl && args.exchange) {
    await deleteTopology(args.amqpUrl, args.exchange, args.queue).catch((e) =>
      say(`could not delete the RabbitMQ exchange and queues: ${e.message}`)
    );
  }
})();
