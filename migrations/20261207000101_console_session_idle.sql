-- Idle timeout of console sessions (issue 15): besides its absolute end (`expires_at`,
-- SESSION_TTL_SECS after sign-in), a session ends once it has not been used for
-- SESSION_IDLE_SECS. `last_seen_at` is when it was last used, moved forward by a request at
-- most once a minute (docs/DESIGN.md "The web console"), so using a session writes a row only
-- now and then. Sessions open while this runs count as seen now.
alter table console_sessions
    add column last_seen_at datetime(6) not null default current_timestamp(6),
    add key ix_console_sessions_seen (last_seen_at);
