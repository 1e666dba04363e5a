-- Typesetting repairs that Quarto and Pandoc's Typst writer leave to the author.
--
-- 1. Number and unit stay on one line: the space between a number and "%", "pp", "MB" or
--    "ms" becomes a no-break space, in both formats ("29.3 %" never splits across pages).
-- 2. Typst: an apostrophe after a digit is set as a prime ("LeNet-5's" becomes LeNet-5′s),
--    because Typst's smart quotes read a quote after a digit as feet/minutes. The writer
--    turns Pandoc's typographic apostrophe back into "'", so every apostrophe inside a word
--    is written as raw Typst "’", which Typst leaves alone.
-- 3. The title never breaks at a hyphen ("Fashion-/MNIST?"): each hyphenated word of the
--    title and subtitle is set in an unbreakable box (Typst) or a nowrap span (HTML).
-- 4. Typst: tables get auto column widths. A pipe table wider than 72 characters carries
--    relative widths taken from its dashes, which can leave a column narrower than its
--    longest word, so words ran into the next column ("final_schedulecosine",
--    "HiResCAMSimple CNN"); Typst's auto layout sizes each column to its content.
-- 5. (A `::: {.landscape}` block is set sideways by filters/sideways.lua, before Quarto.)
-- 6. A name never breaks at its hyphen or slash, nor is it hyphenated ("LeNet-/5", "Grad-/CAM",
--    "T-shirt/ / top" in a narrow column or a table cell): each of NOBREAK in prose, captions,
--    headings and table cells is set in an unbreakable box (Typst) or a nowrap span (HTML).
--    The text keeps its plain hyphen, so search and copy find "LeNet-5" (a U+2011 hyphen
--    would not match it, and the system fonts of the HTML need not have that glyph).
--    Figures are images, so untouched.
-- 7. A value and its spread or range stay on one line: the spaces around a lone "±" ("0.8625 ±
--    0.0047", "mean ± sd"), those of "362 vs 347" and "0.8963 to 0.9045" (between two numbers)
--    and of an interval "[0.8940, 0.9055]"
--    become no-break spaces, as do those before "seed(s)" and "epoch(s)" after a number
--    ("(1 seed)"), so a table cell never wraps as "0.8625 ± / 0.0047".

local NBSP = "\u{00A0}"
local UNITS = { ["%"] = true, ["pp"] = true, ["MB"] = true, ["ms"] = true,
                ["seed"] = true, ["seeds"] = true, ["epoch"] = true, ["epochs"] = true }
-- words bound to a number on both sides (item 7)
local JOINERS = { ["±"] = true, ["vs"] = true, ["to"] = true, ["×"] = true }
local typst = quarto.doc.is_format("typst")

local function unit_of(s)
  return UNITS[s] or UNITS[s:gsub("[%p]+$", "")] or s:match("^%%") ~= nil
end

local function number_at_start(s)
  return s:match("^[%(%[]?[-+]?%d") ~= nil  -- signs are still hyphens here (the minus comes last)
end

local function joined(a, b)
  -- a and b (two Str around a Space) belong on one line: a number and its unit, the two ends
  -- of an interval "[lo," "hi]" (item 7)
  if a:match("%d$") and unit_of(b) then return true end
  return a:match("^[%[%(][-+]?%d[%d.]*,$") ~= nil and b:match("^[-+]?%d[%d.]*[%]%)]") ~= nil
end

local function bind_units(inlines)
  for i = #inlines - 2, 1, -1 do
    local a, sp, b = inlines[i], inlines[i + 1], inlines[i + 2]
    if a.t == "Str" and sp.t == "Space" and b.t == "Str" and joined(a.text, b.text) then
      inlines[i] = pandoc.Str(a.text .. NBSP .. b.text)
      inlines:remove(i + 2)
      inlines:remove(i + 1)
    end
  end
  -- "0.8625 ± 0.0047", "362 vs 347": a joiner between two numbers, bound on both sides
  for i = #inlines - 4, 1, -1 do
    local a, s1, j, s2, b = inlines[i], inlines[i + 1], inlines[i + 2], inlines[i + 3], inlines[i + 4]
    if b and a.t == "Str" and s1.t == "Space" and j.t == "Str" and s2.t == "Space" and b.t == "Str"
        and JOINERS[j.text] and (j.text == "±" or a.text:match("%d[%%%]%)]?$") and number_at_start(b.text)) then
      inlines[i] = pandoc.Str(a.text .. NBSP .. j.text .. NBSP .. b.text)
      for _ = 1, 4 do inlines:remove(i + 1) end
    end
  end
  return inlines
end

local APOSTROPHES = { "\u{2019}", "'" }

local function split_apostrophes(s)
  -- a Str as Str/RawInline pieces, each apostrophe between two characters raw "’"
  local out, rest = pandoc.List(), s
  while true do
    local best, len
    for _, q in ipairs(APOSTROPHES) do
      local at = rest:find(q, 2, true)
      if at and at + #q <= #rest and (not best or at < best) then best, len = at, #q end
    end
    if not best then break end
    out:insert(pandoc.Str(rest:sub(1, best - 1)))
    out:insert(pandoc.RawInline("typst", "\u{2019}"))
    rest = rest:sub(best + len)
  end
  if #out == 0 then return nil end
  out:insert(pandoc.Str(rest))
  return out
end

local function box_hyphenated(inlines)
  return inlines:walk({ Str = function(el)
    if el.text:find("%a%-%w") then
      if typst then
        return pandoc.RawInline("typst", "#box[" .. el.text:gsub("([%[%]#\\*_`$<>@])", "\\%1") .. "]")
      end
      return pandoc.Span({ el }, { class = "nowrap" })  -- theme.scss: white-space: nowrap
    end
  end })
end

-- Names set on one line wherever they appear (Lua patterns, longest first).
local NOBREAK = { "T%-shirt/top", "LeNet%-5", "Grad%-CAM", "HiResCAM" }

local function typst_escape(s)
  return (s:gsub("([%[%]#\\*_`$<>@~])", "\\%1"))
end

local function unbreakable(text)
  -- a Str holding a NOBREAK name as pieces: the name boxed, the text around it plain Str
  -- (Typst: an apostrophe right after the box is raw "’", as split_apostrophes does inside
  -- words, or Typst's smart quotes would open a quotation after the box)
  local out, rest = pandoc.List(), text
  while true do
    local first, last
    for _, name in ipairs(NOBREAK) do
      local a, b = rest:find(name)
      if a and (not first or a < first) then first, last = a, b end
    end
    if not first then break end
    if first > 1 then out:insert(pandoc.Str(rest:sub(1, first - 1))) end
    local name = rest:sub(first, last)
    if typst then
      -- a box as wide as the name: a plain box wraps its text when the column is narrower
      -- ("T-shirt/" / "top" in the AUC table); a measured one cannot, so the column widens
      local esc = typst_escape(name)
      out:insert(pandoc.RawInline("typst", "#context box(width: measure[" .. esc .. "].width)[" .. esc .. "];"))  -- ";" ends the call
    else
      out:insert(pandoc.Span({ pandoc.Str(name) }, { class = "nowrap" }))
    end
    rest = rest:sub(last + 1)
    if typst then
      for _, q in ipairs(APOSTROPHES) do
        if rest:sub(1, #q) == q then
          out:insert(pandoc.RawInline("typst", "\u{2019}"))
          rest = rest:sub(#q + 1)
          break
        end
      end
    end
  end
  if #out == 0 then return nil end
  if #rest > 0 then out:insert(pandoc.Str(rest)) end
  return out
end

local filters = { { Inlines = bind_units } }
table.insert(filters, { Meta = function(meta)
  for _, key in ipairs({ "title", "subtitle" }) do
    if meta[key] then meta[key] = box_hyphenated(pandoc.Inlines(meta[key])) end
  end
  return meta
end })
-- after the title's boxes (a title's word is boxed whole, so not again inside it)
table.insert(filters, { traverse = "topdown", Span = function(span)
  if span.classes:includes("nowrap") then return span, false end
end, Str = function(el)
  local pieces = unbreakable(el.text)
  if pieces then return pieces, false end  -- topdown: never walk into the new boxes again
end })
if typst then
  table.insert(filters, { Table = function(tbl)
    for i, spec in ipairs(tbl.colspecs) do tbl.colspecs[i] = { spec[1], nil } end
    return tbl
  end })
  table.insert(filters, { Str = function(el) return split_apostrophes(el.text) end })
end
-- a sign before a number is a minus (U+2212), not a hyphen: at a word's start ("-0.38"), after
-- an opening bracket ("(-1.5 pp", "[-3.3") and after a no-break space of item 7; Typst and
-- browsers set the hyphen shorter and higher
table.insert(filters, { Str = function(el)
  local text = el.text:gsub("^%-(%d)", "\u{2212}%1"):gsub("([%(%[])%-(%d)", "%1\u{2212}%2")
      :gsub("\u{00A0}%-(%d)", "\u{00A0}\u{2212}%1")  -- after a no-break space ("[-0.05, -0.02]", item 7)
  if text ~= el.text then return pandoc.Str(text) end
end })
return filters
