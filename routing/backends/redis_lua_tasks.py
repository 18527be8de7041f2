"""Lua scripts for offers and task ends (reserve, accept, take, re-prioritize, close, complete, wrap-up, cancel)."""
from __future__ import annotations

RESERVE = r"""
local tkey, maxp = P .. 't:' .. ARGV[2], tonumber(ARGV[3])
local made = {}
for i = 4, #ARGV do
  local o = cjson.decode(ARGV[i])
  local t = get(tkey)
  if not t or (t.state ~= 'pending' and t.state ~= 'reserved') or num(t.offers) >= maxp then break end
  local a = get(P .. 'a:' .. o.agent)
  local declined = false
  for _, d in ipairs(t.declined) do if d == o.agent then declined = true end end
  if a and a.presence == 'available' and freecap(a, o.channel) > 0 and not declined then
    reserve_one(tkey, t, a, o, cjson.encode(o))
    table.insert(made, ARGV[i])
  end
end
return made
"""

ACCEPT = r"""
local now = tonumber(ARGV[4])
local o = get(P .. 'o:' .. ARGV[2])
if not o then return redis.error_reply('NOTPENDING offer ' .. ARGV[2] .. ' is not pending (unknown, or already ended)') end
if o.agent ~= ARGV[3] then return redis.error_reply('NOTYOURS offer ' .. ARGV[2] .. ' is not for agent ' .. ARGV[3]) end
local acc = end_offer(o, 'accepted', now)
local resc = {}
for _, oid in ipairs(redis.call('SMEMBERS', P .. 'to:' .. o.task)) do
  local x = get(P .. 'o:' .. oid)
  if x then table.insert(resc, end_offer(x, 'rescinded', now)) end
end
local t = get(P .. 't:' .. o.task)
t.state = 'assigned'; t.agent = o.agent; t.offers = 0; t.assigned_at = now
put(P .. 't:' .. t.id, t)
redis.call('SADD', P .. 'aa:' .. o.agent, t.id)
local a = get(P .. 'a:' .. o.agent)
local was = freeon(a)
a.missed = 0; a.last_busy = now
local keep = num(t.keep)
if keep > 0 then
  local recent = nonnull(a.recent) or {}
  local r = recent[t.queue] or {}
  table.insert(r, now)
  while #r > keep do table.remove(r, 1) end
  recent[t.queue] = r; a.recent = recent
end
putagent(a, nil, was)
local waited = now - t.created
count(now, t, 'assigned', '1')
if waited <= num(t.sl) then count(now, t, 'sl_met', '1') else count(now, t, 'sl_met', '0') end
bump(now, t, 'accept_sum', waited)
bump(now, t, 'accept_max', waited, true)
return {cjson.encode(t), cjson.encode(acc), cjson.encode(resc)}
"""

TAKE = r"""
local id, agent, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local t = get(P .. 't:' .. id)
if not t or (t.state ~= 'pending' and t.state ~= 'reserved') then
  return redis.error_reply('INVALID task ' .. id .. ' is no longer waiting: someone took it')
end
if redis.call('EXISTS', P .. 'a:' .. agent) == 0 then return redis.error_reply('NOTFOUND no agent ' .. agent) end
local resc = {}
for _, oid in ipairs(redis.call('SMEMBERS', P .. 'to:' .. id)) do
  local x = get(P .. 'o:' .. oid)
  if x then table.insert(resc, end_offer(x, 'rescinded', now)) end
end
if t.state == 'pending' then redis.call('ZREM', qkey(t), t.m) end
t.state = 'assigned'; t.agent = agent; t.offers = 0; t.assigned_at = now
put(P .. 't:' .. id, t)
redis.call('SADD', P .. 'aa:' .. agent, id)
local a = get(P .. 'a:' .. agent)
addload(a, t.channel, 1); a.missed = 0; a.last_busy = now; putagent(a)
count(now, t, 'assigned', '1')
return {cjson.encode(t), cjson.encode(resc)}
"""

SET_PRIORITY = r"""
local id = ARGV[2]
local t = get(P .. 't:' .. id)
if not t or (t.state ~= 'pending' and t.state ~= 'reserved') then return false end
if t.state == 'pending' then redis.call('ZREM', qkey(t), t.m) end
t.priority = tonumber(ARGV[3]); t.zs = ARGV[4]; t.score = tonumber(ARGV[4])
put(P .. 't:' .. id, t)
if t.state == 'pending' then redis.call('ZADD', qkey(t), t.zs, t.m) end
return cjson.encode(t)
"""

CLOSE_OFFER = r"""
local oid, status, now, agent, limit = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local o = get(P .. 'o:' .. oid)
if not o then
  if agent == '' then return false end
  return redis.error_reply('NOTPENDING offer ' .. oid .. ' is not pending (unknown, or already ended)')
end
if agent ~= '' and o.agent ~= agent then return redis.error_reply('NOTYOURS offer ' .. oid .. ' is not for agent ' .. agent) end
local ended = end_offer(o, status, now)
local requeued = {}
local t = reopen(o.task, o.agent, now)
if t then table.insert(requeued, t) end
local akey = P .. 'a:' .. o.agent
local a = get(akey)
if not a then return {cjson.encode(ended), cjson.encode(requeued), '', '[]'} end
a.missed = num(a.missed) + 1; putagent(a)
if limit <= 0 or a.missed < limit then return {cjson.encode(ended), cjson.encode(requeued), '', '[]'} end
a.presence = 'break'; a.reason = 'missed_offers'; a.missed = 0; putagent(a)
local others, more = rescind_agent(o.agent, now)
for _, x in ipairs(more) do table.insert(requeued, x) end
return {cjson.encode(ended), cjson.encode(requeued), redis.call('GET', akey), cjson.encode(others)}
"""

COMPLETE = r"""
local id, now = ARGV[2], tonumber(ARGV[3])
local traw = redis.call('GET', P .. 't:' .. id)
local t = traw and cjson.decode(traw)
if not t or t.state ~= 'assigned' or not nonnull(t.agent) then return redis.error_reply('INVALID task ' .. id .. ' is not assigned') end
local a = get(P .. 'a:' .. t.agent)
local was = a and freeon(a)
local wrap = 0
if t.channel == 'voice' then wrap = num(t.wrap) end
count(now, t, 'completed', '1')
if a then addload(a, t.channel, -1) end
if wrap > 0 then
  if a then a.wrapping = num(a.wrapping) + 1; putagent(a) end
  t.state = 'wrapping'; put(P .. 't:' .. id, t)
  redis.call('ZADD', P .. 'due', tostring(now + wrap), 'w:' .. id)
  return {cjson.encode(t), '[]', {}, {}}
end
-- The freed agent is stored (`stored()`) before anything reads what it changes (the free agents, the
-- ranks), or at the end: stored once, if its next offer is made to itself here.
local araw, unstored = '', false
if a then a.last_busy = now; araw = cjson.encode(a); unstored = true end
local function stored() if unstored then putagent(a, araw, was); unstored = false end end
finish(t, 'completed')
-- The task itself not sent back: the caller knows its id, and that it is completed by the freed agent.
local done = {'', '[]', {t.agent}, {araw}}
-- ARGV[4] > 0: the freed agent's next step read along (the head of each queue it serves, the engine's
-- queues ARGV[7..6+n] with n = ARGV[6], on each channel it has room on, and the free agents), as PENDING
-- would: a round trip less.
local limit, keys, pages, free = tonumber(ARGV[4] or '0'), {}, {}, {}
if not (a and limit > 0 and a.presence == 'available') then stored(); return done end
local serves = {}
for _, q in ipairs(nonnull(a.queues) or {}) do serves[q] = true end
local channels = {}
for ch, _ in pairs(a.cap) do if freecap(a, ch) > 0 then channels[#channels + 1] = ch end end
if #channels > 1 then table.sort(channels) end
local nq = tonumber(ARGV[6])
for i = 7, 6 + nq do
  if next(serves) == nil or serves[ARGV[i]] then
    for _, ch in ipairs(channels) do
      keys[#keys + 1] = ARGV[i]; keys[#keys + 1] = ch
      -- The members ('<seq>|<id>'): their documents are read when needed (matching here reads one a queue).
      pages[#pages + 1] = redis.call('ZRANGE', P .. 'q:' .. ARGV[i] .. ':' .. ch, 0, limit - 1)
    end
  end
end
local work = false
for _, page in ipairs(pages) do if #page > 0 then work = true end end
if not work then stored(); return {done[1], done[2], done[3], done[4], keys, pages, free} end  -- nothing waits
-- ARGV[5] and ARGV[7+n..]: the new offer's id and, for each queue of ARGV[7..6+n], its policy, aging
-- seconds and offer timeout (a policy '' for a queue the engine did not describe), if every one of them
-- needs no judgement beyond an index walk (`policies.matchable_in_backend`): the freed agent's best task
-- (the engine's `_best_task`: per queue the first it may take, then across queues by effective priority,
-- arrival) offered here, by the queue's policy, to the first free agent that fits: the whole decision in
-- this one round trip. Anything the walk cannot judge (an owner, a team, working hours, a page with
-- nothing that fits) goes back to the engine with the read, as before.
if ARGV[5] ~= '' and not nonnull(a.hours) then
  -- Each queue's settings where ARGV holds them (its policy at `at`, aging and timeout after it): no
  -- table built per queue and call.
  local spec = {}
  for i = 7, 6 + nq do
    local at = 7 + nq + 3 * (i - 7)
    if ARGV[at] ~= '' then spec[ARGV[i]] = at end
  end
  -- Each queue's head in one MGET (a command costs Redis about what a document's decode does); the rest
  -- of a page one GET at a time, only while its head does not fit.
  local firsts, heads = {}, {}
  for i, page in ipairs(pages) do
    if page[1] then firsts[#firsts + 1] = P .. 't:' .. string.sub(page[1], 14); heads[i] = #firsts end
  end
  if #firsts > 0 then firsts = redis.call('MGET', unpack(firsts)) end
  local best, bestraw, bestq, bk1, bk2, bk3
  local judged = true
  for i, page in ipairs(pages) do
    local q = spec[keys[2 * i - 1]]
    if not q then judged = false; break end
    local found, foundraw, docs = nil, nil, 0
    for j, m in ipairs(page) do
      local raw
      if j == 1 then raw = firsts[heads[i]] else raw = redis.call('GET', P .. 't:' .. string.sub(m, 14)) end
      if raw then
        docs = docs + 1
        local x = cjson.decode(raw)
        if nonnull(x.owner) or nonnull(x.team) then judged = false; break end
        local declined = false
        for _, d in ipairs(nonnull(x.declined) or {}) do if d == a.id then declined = true end end
        -- A task this agent declined may be due a new round: the engine's to judge (a round's pause).
        if declined then judged = false; break end
        if fits(a, x) then found, foundraw = x, raw; break end
      end
    end
    if not judged then break end
    if found then
      local k1, k2
      local aging = tonumber(ARGV[q + 1])
      if aging > 0 then k1, k2 = -(num(found.priority) + math.max(0, now - num(found.created)) / aging), 0
      else k1, k2 = -num(found.priority), num(found.created) end
      local k3 = num(found.seq)
      if best == nil or k1 < bk1 or (k1 == bk1 and (k2 < bk2 or (k2 == bk2 and k3 < bk3))) then
        best, bestraw, bestq, bk1, bk2, bk3 = found, foundraw, q, k1, k2, k3
      end
    elseif docs == limit then judged = false; break end     -- the engine would read deeper
  end
  if judged and best then
    local seen, b
    local policy = ARGV[bestq]
    if redis.call('ZCARD', P .. 'rank:' .. best.channel .. ':' .. policy) == 0 then
      -- Nobody else free on the channel: the walk would find the freed agent alone (it fits, has not
      -- declined, has no hours: checked above), so it gets the offer, and is stored once, below. Its
      -- document goes back once (as the freed agent's): `seen` empty says the walk saw it alone.
      seen, b = {}, a
    else
      stored()
      seen, b = walk(best, policy, a, araw)
    end
    if b then
      local o = {id = ARGV[5], task = best.id, agent = b.id, channel = best.channel, queue = best.queue,
                 created = now, expires = now + tonumber(ARGV[bestq + 2]), status = 'pending'}
      -- The freed agent not stored yet (it is `b`): its free sets are still those of the document as read.
      local asread = b == a and unstored and was or nil
      unstored = false      -- stored already, or it is `b`, which reserve_one stores as it ends up
      reserve_one(P .. 't:' .. best.id, best, b, o, cjson.encode(o), asread)
      return {done[1], done[2], done[3], done[4], {}, {}, {}, {bestraw, seen, b.id}}
    end
  end
end
stored()
for _, ch in ipairs(channels) do free[#free + 1] = ch; free[#free + 1] = pool(ch, '', 0) end
for i, page in ipairs(pages) do      -- handed back: the engine reads them all
  local tkeys = {}
  for j, m in ipairs(page) do tkeys[j] = P .. 't:' .. string.sub(m, 14) end
  pages[i] = mget(tkeys)
end
return {done[1], done[2], done[3], done[4], keys, pages, free}
"""

NEW_ROUND = r"""
local key = P .. 't:' .. ARGV[2]
local t = get(key)
if not t or t.state ~= 'pending' then return false end
local round = tonumber(ARGV[3])
if math.max(1, num(t.round)) == round then t.declined = {}; t.round = round + 1; put(key, t) end
return cjson.encode(t)
"""

FINISH_WRAP = r"""
local id, now = ARGV[2], tonumber(ARGV[3])
local t = get(P .. 't:' .. id)
if not t or t.state ~= 'wrapping' or not nonnull(t.agent) then return false end
local a = get(P .. 'a:' .. t.agent)
if a then a.wrapping = math.max(0, num(a.wrapping) - 1); a.last_busy = now; putagent(a) end
finish(t, 'completed')
return {cjson.encode(t), '[]', {t.agent}, agentdocs({t.agent})}
"""

CANCEL = r"""
local id, now = ARGV[2], tonumber(ARGV[3])
local t = get(P .. 't:' .. id)
if not t then return redis.error_reply('NOTFOUND no live task ' .. id) end
local resc, freed = {}, {}
for _, oid in ipairs(redis.call('SMEMBERS', P .. 'to:' .. id)) do
  local o = get(P .. 'o:' .. oid)
  if o then table.insert(resc, end_offer(o, 'rescinded', now)); table.insert(freed, o.agent) end
end
if t.state == 'pending' then redis.call('ZREM', qkey(t), t.m) end
if t.state == 'pending' or t.state == 'reserved' then count(now, t, 'abandoned', '1')
elseif nonnull(t.agent) then
  local a = get(P .. 'a:' .. t.agent)
  if a then
    if t.state == 'wrapping' then a.wrapping = math.max(0, num(a.wrapping) - 1) else addload(a, t.channel, -1) end
    a.last_busy = now; putagent(a)
    redis.call('ZREM', P .. 'due', 'w:' .. id)
    table.insert(freed, t.agent)
  end
end
finish(t, 'canceled')
return {cjson.encode(t), cjson.encode(resc), freed, agentdocs(freed)}
"""
