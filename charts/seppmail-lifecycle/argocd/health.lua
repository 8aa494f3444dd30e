-- Argo CD health of every lifecycle.seppmail.cloud kind, from the status the operator writes
-- (kstatus conventions: observedGeneration, Ready, Reconciling, Stalled), in this order:
--   no status, or observedGeneration behind metadata.generation     -> Progressing
--   Stalled=True (the spec must be fixed)                           -> Degraded
--   removed or purged for good (phase deprovisioned, period Purged) -> Healthy
--   cancelled, its removal scheduled (support can expedite it)      -> Suspended
--   waiting for someone: the partner's DNS records (AwaitingPartner), a frozen license
--   (Blocked, period Freeze), a suspension (Suspended), an unpaid invoice (subscription
--   EXPIRED, contract expired, invoice open)                        -> Suspended
--   Ready=True                                                      -> Healthy (Billable=False: Degraded);
--     a tenant's blocked console, an invoice due, the grace period are said in the message
--   Reconciling=True                                                -> Progressing
--   Ready=False otherwise                                           -> Degraded
-- The message is the condition's own: it says what waits, or what to fix.
-- Installed as resource.customizations.health.lifecycle.seppmail.cloud_<Kind> (see argocd/README.md).
local function condition(status, kind)
  if status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type == kind then
        return c
      end
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local function health(obj)
  local status = obj.status
  local generation = obj.metadata.generation
  if status == nil or status.observedGeneration == nil then
    return "Progressing", "Waiting for the operator to decide this object."
  end
  if generation ~= nil and status.observedGeneration < generation then
    return "Progressing", "Waiting for the operator to observe generation " .. tostring(generation) .. "."
  end
  local ready = condition(status, "Ready")
  local stalled = condition(status, "Stalled")
  if is_true(stalled) then
    return "Degraded", message(stalled, "Stalled: the spec must be fixed.")
  end
  if status.phase == "deprovisioned" then
    return "Healthy", message(ready, "Removed from the systems.")
  end
  if status.period == "Purged" then
    return "Healthy", message(ready, "Purged.")
  end
  if status.phase == "cancelled" then
    return "Suspended", message(ready, "Cancelled: removal is scheduled.")
  end
  for _, waiting in ipairs({"AwaitingPartner", "Blocked", "Suspended"}) do
    local c = condition(status, waiting)
    if is_true(c) then
      return "Suspended", message(c, waiting .. ".")
    end
  end
  if status.period == "Freeze" then
    return "Suspended", message(ready, "Frozen.")
  end
  local subscription = status.subscription
  if subscription ~= nil and (subscription.state == "EXPIRED" or subscription.state == "SUSPENDED") then
    return "Suspended", message(ready, "Subscription " .. subscription.state .. ".")
  end
  if (obj.kind == "Contract" and status.state == "expired") or (obj.kind == "Invoice" and status.state == "open") then
    return "Suspended", message(ready, "Waiting for a payment.")
  end
  if is_true(ready) then
    local billable = condition(status, "Billable")
    if billable ~= nil and billable.status == "False" then
      return "Degraded", message(billable, "Not billable.")
    end
    -- Worth a word, not a different health: console access blocked (a tenant of a frozen
    -- license: the license and the domains say Suspended), an invoice due, the grace period.
    local said = message(ready, "Ready.")
    for _, note in ipairs({"ConsoleAccessBlocked", "PaymentDue", "InGrace"}) do
      local c = condition(status, note)
      if is_true(c) and c.message ~= nil then
        said = said .. " " .. c.message
      end
    end
    return "Healthy", said
  end
  if is_true(condition(status, "Reconciling")) then
    return "Progressing", message(ready, "The operator is working on it.")
  end
  return "Degraded", message(ready, "Not ready.")
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
