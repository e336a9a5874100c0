/**
 * The outbox (../outbox.ts) and the stream consumers' deduplication (../dedup.ts).
 *
 * outbox_events: events written in the application's transaction by `bus.publish`, read
 * oldest first by the one relay holding the lease and deleted once delivered. `seq` is
 * the write order and the relay's only read (`ORDER BY seq LIMIT n`): its primary key
 * index is that read's index, so no other is kept on a table written on every publish.
 * The payload is json, as a command's is (migration 003): stored as sent, returned as
 * stored.
 *
 * outbox_relay_lease: one row, the relay that may deliver now and until when. One relay
 * at a time is what keeps each key's events in order; a relay that stops or dies loses it
 * when it expires. The row exists from the start, so taking the lease is an UPDATE that
 * concurrent relays queue on, never an insert race.
 *
 * stream_dedup: the event ids each consumer group (scope) has handled, until they expire;
 * the index on expires_at serves the bounded purges of expired rows.
 */
export const up = `
CREATE TABLE $SCHEMA.outbox_events (
  seq            bigserial PRIMARY KEY,
  id             uuid NOT NULL UNIQUE,
  topic          text NOT NULL,
  key            text NOT NULL,
  type           text NOT NULL,
  data           json NOT NULL,
  headers        jsonb,
  correlation_id text,
  causation_id   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  attempts       integer NOT NULL DEFAULT 0
);

CREATE TABLE $SCHEMA.outbox_relay_lease (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  holder     text,
  expires_at timestamptz NOT NULL
);
INSERT INTO $SCHEMA.outbox_relay_lease (holder, expires_at) VALUES (NULL, '-infinity');

CREATE TABLE $SCHEMA.stream_dedup (
  scope      text NOT NULL,
  event_id   text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (scope, event_id)
);
CREATE INDEX stream_dedup_expiry ON $SCHEMA.stream_dedup (expires_at);
`;
