package ginsession

// loadScript reads a session (KEYS[1]) and checks its timeouts at ARGV[1]
// (idle and absolute ARGV[2] and [3], or [5] and [6] for a remembered one):
// an expired session is deleted; a live one gets its last activity and TTL
// refreshed when ARGV[4] ms have passed. The reply is the hash's fields and
// values (as read, before the refresh) and a status: "1" live, "2" expired,
// "3" live but its refresh refused (Redis out of memory); a missing session,
// or a tombstone (see endScript), replies an empty array.
var loadScript = newScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return v end
local c, a, r
for i = 1, #v, 2 do
  if v[i] == '_c' then c = tonumber(v[i+1]) elseif v[i] == '_a' then a = tonumber(v[i+1]) elseif v[i] == '_r' then r = v[i+1]
  elseif v[i] == '_t' then return {} end
end
local now, idle, abs, every = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if r == '1' then idle, abs = tonumber(ARGV[5]), tonumber(ARGV[6]) end
local status = '1'
if c == nil or a == nil or now - (c + a) >= idle or now - c >= abs then
  redis.call('DEL', KEYS[1])
  status = '2'
elseif now - (c + a) >= every then
  local ttl = c + abs - now
  if idle < ttl then ttl = idle end
  local w = redis.pcall('HSET', KEYS[1], '_a', string.format('%d', now - c))
  if type(w) == 'table' and w.err then
    status = '3' -- refused when Redis is out of memory: the read still succeeds
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
v[#v + 1] = status
return v
`)

// createScript writes a new session and its TTL atomically, and returns 1,
// unless its key holds a tombstone of endScript: then it writes nothing
// and returns 0 (it may run twice, when a pipeline is sent again after
// NOSCRIPT, so its own first write does not count). Fields go to HSET 500 pairs at a time: Lua's unpack cannot
// spread more than a few thousand values.
var createScript = newScript(`
if redis.call('HEXISTS', KEYS[1], '_t') == 1 then return 0 end
for i = 2, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// updateScript writes the fields of a session that changed, deletes the ones
// that were removed and sets the TTL, atomically, and only if the session
// still exists: a save that races a logout never recreates the session, and
// one that races an end with a tombstone (endScript) writes nothing into it.
// ARGV: the TTL, the number of fields to delete, the size limit of the
// values (negative: none), the fields to delete, the field-value pairs to
// set. It returns 1, 0 when the session is gone, or 2 when the values the
// session would hold, its other requests' included, exceed the limit
// (nothing is written).
var updateScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], '_t') == 1 then return 0 end
local n, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if limit >= 0 then
  local size, h = {}, redis.call('HGETALL', KEYS[1])
  for i = 1, #h, 2 do
    if string.sub(h[i], 1, 1) ~= '_' then size[h[i]] = #h[i] + #h[i + 1] end
  end
  for i = 4, 3 + n do size[ARGV[i]] = nil end
  for i = 4 + n, #ARGV, 2 do
    if string.sub(ARGV[i], 1, 1) ~= '_' then size[ARGV[i]] = #ARGV[i] + #ARGV[i + 1] end
  end
  local total = 0
  for _, l in pairs(size) do total = total + l end
  if total > limit then return 2 end
end
for i = 4, 3 + n, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, 3 + n)))
end
for i = 4 + n, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// indexScript adds a login's session to its user's index (KEYS[1]), or, when
// the user's revocation mark is after the credential check, refuses it and
// returns {markMember}. Beyond the cap it returns the user's other entries,
// oldest first, with scores, removing none; else an empty array. It prunes
// entries past their deadline and keeps the index at least as long as the new
// session. ARGV: now (s), the new entry's score (its deadline, s) and member,
// the TTL (ms), the cap (negative: none), the replaced pre-login entry or "",
// the check time (µs).
var indexScript = newScript(`
local mark = redis.call('ZSCORE', KEYS[1], 'revoked')
if mark and tonumber(ARGV[7]) < tonumber(mark) then return {'revoked'} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local cap = tonumber(ARGV[5])
if cap < 0 then return {} end
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local excess = #all / 2 - cap
for i = 1, #all, 2 do
  if all[i] == ARGV[6] or all[i] == 'revoked' then excess = excess - 1 end
end
if excess <= 0 then return {} end
local out = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[3] and all[i] ~= ARGV[6] and all[i] ~= 'revoked' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`)

// revokeScript raises the user's revocation mark (KEYS[1], the index) to
// ARGV[2] (Unix µs), keeps the index at least ARGV[3] ms, prunes the
// entries past their absolute deadline (ARGV[1], seconds) and returns the
// index, with scores. Raising the mark and reading the index in one script
// splits every Login in two: one whose index entry came first is in the
// list, and one that comes after finds the mark.
var revokeScript = newScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local cur = redis.call('ZSCORE', KEYS[1], 'revoked')
if not cur or tonumber(cur) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], 'revoked') end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
`)

// unindexScript removes members (ARGV[2] on) from a user's index (KEYS[1]);
// when only the revocation mark is left, the index lives no longer than
// the mark must (ARGV[1] ms), so that nothing of a user whose sessions all
// ended stays in Redis for long.
var unindexScript = newScript(`
for i = 2, #ARGV, 1000 do
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('ZCARD', KEYS[1]) == 1 and redis.call('ZSCORE', KEYS[1], 'revoked') then
  if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
end
return 0
`)

// endScript ends the session of a recent login (KEYS[1]): it deletes its
// key, leaves a tombstone there for ARGV[1] ms, and returns 1 if a session
// was deleted. A session write still on its way (a Login on a Cluster, where
// the write and the index entry go to different nodes in parallel, or a
// write go-redis sends again after a lost reply) then finds the tombstone
// and is not created (createScript), so its entry can leave the index.
var endScript = newScript(`
if redis.call('HEXISTS', KEYS[1], '_t') == 1 then return 0 end
local live = redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_t', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return live
`)
