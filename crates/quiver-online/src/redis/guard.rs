//! The event-time guard: a Lua script that writes a view's row into an entity hash
//! only when it is not older than the stored one, atomically on the server.

use std::sync::LazyLock;

use redis::{Cmd, Script};

/// One call guards a batch of rows of one view (every key in one cluster
/// slot), applied in order, so a later row of an entity sees an earlier one.
///
/// KEYS[i]: row i's entity hash (a key may repeat).
/// ARGV[1]: view; ARGV[2]: F, the number of features; ARGV[3..2+F]: their names.
/// Then per row, at b = 3 + F + (i - 1) * (3 + F): ARGV[b]: event µs;
/// ARGV[b+1]: created µs or '' (null); ARGV[b+2]: expiry: '' leave it alone,
/// '-1' persist (a view without TTL lives there), otherwise keep the key
/// alive at least this many ms; ARGV[b+3..b+2+F]: the encoded values.
/// Returns one integer per row: 1 written, 0 dropped as older.
///
/// Timestamps are compared as Lua numbers (doubles): exact for |µs| < 2^53, which
/// writes enforce. A null created ranks below any created value.
const GUARD_LUA: &str = r"
local view = ARGV[1]
local nf = tonumber(ARGV[2])
local ts_field = view .. ':__ts'
local cr_field = view .. ':__created'
local fields = {}
for j = 1, nf do fields[j] = view .. ':' .. ARGV[2 + j] end
local stride = 3 + nf
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local b = 3 + nf + (i - 1) * stride
  local ev = tonumber(ARGV[b])
  local cr = tonumber(ARGV[b + 1])
  local keep = ARGV[b + 2]
  local write = true
  local stored = redis.call('HMGET', key, ts_field, cr_field)
  if stored[1] then
    local old_ev = tonumber(stored[1])
    if ev < old_ev then
      write = false
    elseif ev == old_ev and stored[2] then
      local old_cr = tonumber(stored[2])
      if cr == nil or cr < old_cr then write = false end
    end
  end
  if write then
    local ttl_before = -1
    if keep ~= '' and keep ~= '-1' then ttl_before = redis.call('PTTL', key) end
    local batch = {ts_field, ARGV[b]}
    if cr == nil then
      redis.call('HDEL', key, cr_field)
    else
      batch[3] = cr_field
      batch[4] = ARGV[b + 1]
    end
    for j = 1, nf do
      batch[#batch + 1] = fields[j]
      batch[#batch + 1] = ARGV[b + 2 + j]
      if #batch >= 1000 then
        redis.call('HSET', key, unpack(batch))
        batch = {}
      end
    end
    if #batch > 0 then redis.call('HSET', key, unpack(batch)) end
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
    /// Encoded values, one per feature.
    pub values: Vec<Vec<u8>>,
}

/// One `EVALSHA` of the guard script over `rows` of `view` (all keys in one
/// cluster slot).
pub(crate) fn guard_cmd(view: &str, features: &[String], rows: &[&GuardRow]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(GUARD.get_hash()).arg(rows.len());
    for row in rows {
        cmd.arg(row.key.as_slice());
    }
    cmd.arg(view).arg(features.len());
    for feature in features {
        cmd.arg(feature.as_str());
    }
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
        for value in &row.values {
            cmd.arg(value.as_slice());
        }
    }
    cmd
}
