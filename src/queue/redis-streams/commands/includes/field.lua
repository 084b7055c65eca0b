-- Value of `name` in a flat {field, value, ...} list; the whole list as JSON if absent, so an
-- entry written by something else still reaches the dead-letter queue with its content.
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return cjson.encode(fields)
end
