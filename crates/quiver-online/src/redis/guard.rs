//! The event-time guard: a Lua script that writes a view's record into an entity
//! hash only when it is not older than the stored one, atomically on the server.

use std::sync::LazyLock;

use redis::{Cmd, Script};

/// One call guards a batch of rows of one view (every key in one cluster
/// slot), applied in order, so a later row of an entity sees an earlier one.
///
/// KEYS[i]: row i's entity hash (a key may repeat).
/// ARGV[1]: the view. Then per row, at b = 2 + (i - 1) * 4: ARGV[b]: event µs;
/// ARGV[b+1]: created µs or '' (null); ARGV[b+2]: expiry: '' leave it alone,
/// '-1' persist (a view without TTL lives there), otherwise keep the key
/// alive at least this many ms; ARGV[b+3]: the row's record.
/// Returns one integer per row: 1 written, 0 dropped as older.
///
/// The stored record's times are read from its fixed header (`record.rs`:
/// format byte, event i64 LE, created flag, created i64 LE). A view still in
/// the legacy field-per-feature layout (`layout.rs`) is judged by its
/// `__ts`/`__created` fields, which the record replaces when it is written.
///
/// Timestamps are compared as Lua numbers (doubles): exact for |µs| < 2^53, which
/// writes enforce. A null created ranks below any created value.
const GUARD_LUA: &str = r"
local view = ARGV[1]
local ts_field = view .. ':__ts'
local cr_field = view .. ':__created'
local legacy_prefix = view .. ':'
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local b = 2 + (i - 1) * 4
  local ev = tonumber(ARGV[b])
  local cr = tonumber(ARGV[b + 1])
  local keep = ARGV[b + 2]
  local old_ev, old_cr, legacy
  -- One read finds the record or, failing that, the legacy times.
  local found = redis.call('HMGET', key, view, ts_field, cr_field)
  local stored = found[1]
  if stored then
    local flag
    old_ev, flag = struct.unpack('<i8B', stored, 2)
    if flag == 1 then old_cr = struct.unpack('<i8', stored, 11) end
  elseif found[2] then
    legacy = true
    old_ev = tonumber(found[2])
    if found[3] then old_cr = tonumber(found[3]) end
  end
  local write = true
  if old_ev then
    if ev < old_ev then
      write = false
    elseif ev == old_ev and old_cr and (cr == nil or cr < old_cr) then
      write = false
    end
  end
  if write then
    local ttl_before = -1
    if keep ~= '' and keep ~= '-1' then ttl_before = redis.call('PTTL', key) end
    redis.call('HSET', key, view, ARGV[b + 3])
    if legacy then
      local gone = {}
      for _, f in ipairs(redis.call('HKEYS', key)) do
        if string.sub(f, 1, #legacy_prefix) == legacy_prefix then
          gone[#gone + 1] = f
          if #gone >= 1000 then
            redis.call('HDEL', key, unpack(gone))
            gone = {}
          end
        end
      end
      if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
    end
    if keep == '-1' then
      redis.call('PERSIST', key)
    elseif keep ~= '' then
      local want = tonumber(keep)
      if ttl_before == -2 or (ttl_before >= 0 and ttl_before < want) then
        redis.call('PEXPIRE', key, want)
      end
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
";

pub(crate) static GUARD: LazyLock<Script> = LazyLock::new(|| Script::new(GUARD_LUA));

/// How the script should treat the key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Key expiry is off: never touch it.
    Leave,
    /// The view has no TTL: its data must never expire.
    Persist,
    /// Keep the key at least this many milliseconds (never shortened).
    AtLeastMs(i64),
}

/// One row for the guard script.
pub(crate) struct GuardRow {
    pub key: Vec<u8>,
    pub event_ts: i64,
    pub created_ts: Option<i64>,
    pub expiry: Expiry,
    /// The row's record (`record.rs`).
    pub record: Vec<u8>,
}

/// One `EVALSHA` of the guard script over `rows` of `view` (all keys in one
/// cluster slot).
pub(crate) fn guard_cmd(view: &str, rows: &[&GuardRow]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(GUARD.get_hash()).arg(rows.len());
    for row in rows {
        cmd.arg(row.key.as_slice());
    }
    cmd.arg(view);
    for row in rows {
        cmd.arg(row.event_ts);
        match row.created_ts {
            Some(c) => cmd.arg(c),
            None => cmd.arg(""),
        };
        match row.expiry {
            Expiry::Leave => cmd.arg(""),
            Expiry::Persist => cmd.arg("-1"),
            Expiry::AtLeastMs(ms) => cmd.arg(ms.max(1)),
        };
        cmd.arg(row.record.as_slice());
    }
    cmd
}
