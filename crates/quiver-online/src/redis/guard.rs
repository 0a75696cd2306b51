//! The event-time guard: a Lua script that writes a view's row into an entity hash
//! only when it is not older than the stored one, atomically on the server.

use std::sync::LazyLock;

use redis::{Cmd, Script};

/// KEYS[1]: the entity hash.
/// ARGV[1]: view; ARGV[2]: event µs; ARGV[3]: created µs or '' (null);
/// ARGV[4]: expiry: '' leave it alone, '-1' persist (a view without TTL lives
/// there), otherwise keep the key alive at least this many ms;
/// ARGV[5..]: feature, encoded value, feature, encoded value, ...
/// Returns 1 when written, 0 when dropped as older.
///
/// Timestamps are compared as Lua numbers (doubles): exact for |µs| < 2^53, which
/// writes enforce. A null created ranks below any created value.
const GUARD_LUA: &str = r"
local key = KEYS[1]
local view = ARGV[1]
local ev = tonumber(ARGV[2])
local cr = tonumber(ARGV[3])
local ts_field = view .. ':__ts'
local cr_field = view .. ':__created'
local stored = redis.call('HMGET', key, ts_field, cr_field)
if stored[1] then
  local old_ev = tonumber(stored[1])
  if ev < old_ev then return 0 end
  if ev == old_ev and stored[2] then
    local old_cr = tonumber(stored[2])
    if cr == nil or cr < old_cr then return 0 end
  end
end
local keep = ARGV[4]
local ttl_before = -1
if keep ~= '' and keep ~= '-1' then ttl_before = redis.call('PTTL', key) end
local batch = {ts_field, ARGV[2]}
if cr == nil then
  redis.call('HDEL', key, cr_field)
else
  batch[3] = cr_field
  batch[4] = ARGV[3]
end
for i = 5, #ARGV, 2 do
  batch[#batch + 1] = view .. ':' .. ARGV[i]
  batch[#batch + 1] = ARGV[i + 1]
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
return 1
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

/// One row's `EVALSHA` of the guard script.
pub(crate) struct GuardCall<'a> {
    pub key: &'a [u8],
    pub view: &'a str,
    pub event_ts: i64,
    pub created_ts: Option<i64>,
    pub expiry: Expiry,
    pub features: &'a [String],
    /// Encoded values, one per feature.
    pub values: &'a [Vec<u8>],
}

impl GuardCall<'_> {
    pub(crate) fn to_cmd(&self) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(GUARD.get_hash())
            .arg(1)
            .arg(self.key)
            .arg(self.view)
            .arg(self.event_ts);
        match self.created_ts {
            Some(c) => cmd.arg(c),
            None => cmd.arg(""),
        };
        match self.expiry {
            Expiry::Leave => cmd.arg(""),
            Expiry::Persist => cmd.arg("-1"),
            Expiry::AtLeastMs(ms) => cmd.arg(ms.max(1)),
        };
        for (feature, value) in self.features.iter().zip(self.values) {
            cmd.arg(feature.as_str()).arg(value.as_slice());
        }
        cmd
    }
}
