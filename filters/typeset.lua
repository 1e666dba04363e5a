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
-- 5. Typst: a block marked `::: {.landscape}` (a table too wide for a portrait page) is set
--    on landscape pages of its own; the HTML ignores the class.
-- 6. A model's name never breaks at its hyphen ("LeNet-/5" in a narrow column or a table
--    cell): each of NOBREAK in prose, captions, headings and table cells is set in an
--    unbreakable box (Typst) or a nowrap span (HTML). The text keeps its plain hyphen, so
--    search and copy find "LeNet-5" (a U+2011 hyphen would not match it, and the system
--    fonts of the HTML need not have that glyph). Figures are images, so untouched.

local NBSP = "\u{00A0}"
local UNITS = { ["%"] = true, ["pp"] = true, ["MB"] = true, ["ms"] = true }
local typst = quarto.doc.is_format("typst")

local function unit_of(s)
  return UNITS[s] or UNITS[s:gsub("[%p]+$", "")] or s:match("^%%") ~= nil
end

local function bind_units(inlines)
  for i = #inlines - 2, 1, -1 do
    local a, sp, b = inlines[i], inlines[i + 1], inlines[i + 2]
    if a.t == "Str" and sp.t == "Space" and b.t == "Str" and a.text:match("%d$") and unit_of(b.text) then
      inlines[i] = pandoc.Str(a.text .. NBSP .. b.text)
      inlines:remove(i + 2)
      inlines:remove(i + 1)
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
local NOBREAK = { "LeNet%-5" }

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
      out:insert(pandoc.RawInline("typst", "#box[" .. typst_escape(name) .. "];"))  -- ";" ends the call
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
  table.insert(filters, { Div = function(div)
    if div.classes:includes("landscape") then
      local blocks = pandoc.Blocks({ pandoc.RawBlock("typst", "#page(flipped: true)[") })
      blocks:extend(div.content)
      blocks:insert(pandoc.RawBlock("typst", "]"))
      return blocks
    end
  end })
end
-- a sign before a number is a minus (U+2212), not a hyphen: at a word's start ("-0.38") and after
-- an opening bracket ("(-1.5 pp", "[-3.3"); Typst and browsers set the hyphen shorter and higher
table.insert(filters, { Str = function(el)
  local text = el.text:gsub("^%-(%d)", "\u{2212}%1"):gsub("([%(%[])%-(%d)", "%1\u{2212}%2")
  if text ~= el.text then return pandoc.Str(text) end
end })
return filters
