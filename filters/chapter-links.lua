-- A chapter rendered alone (`quarto render chapters/03-baseline.qmd`) refers to sections,
-- figures and tables of other chapters that this document does not hold: Quarto would print
-- "?@sec-tuning" and warn. Before Quarto resolves cross-references, each such reference
-- becomes a link to the same anchor in the full paper (report.qmd's HTML, in the profile's
-- output folder), named by the section's title or by the chapter that holds the figure or
-- table, so a reader of one chapter can follow it. The full paper itself is left alone.

local KINDS = { sec = "Section", fig = "Figure", tbl = "Table" }

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function sources(root)
  local files = { root .. "/report.qmd" }
  for _, name in ipairs(pandoc.system.list_directory(root .. "/chapters")) do
    if name:match("%.qmd$") then table.insert(files, root .. "/chapters/" .. name) end
  end
  return files
end

-- label -> text that names it: a section's title, a figure's or table's chapter title
local function catalogue(root)
  local names = {}
  for _, path in ipairs(sources(root)) do
    local text, chapter = read(path) or "", nil
    for line in text:gmatch("[^\n]*") do
      local title, id = line:match("^#+%s+(.-)%s*{#(sec%-[%w_-]+)[^}]*}")
      if not title then title = line:match("^#%s+([^{]-)%s*$") end
      if title and not chapter then chapter = title end
      if id then names[id] = title end
      local label = line:match("^#|%s*label:%s*((%a+)%-[%w_-]+)")
      if label and chapter then names[label] = chapter end
    end
  end
  return names
end

local function output_dir(root)
  local profile = os.getenv("QUARTO_PROFILE") or ""
  for _, file in ipairs({ "_quarto-" .. profile:match("^[^,]*") .. ".yml", "_quarto.yml" }) do
    local dir = (read(root .. "/" .. file) or ""):match("\n%s*output%-dir:%s*([^\n#]-)%s*\n")
    if dir then return dir end
  end
  return "."
end

local function relative_to_root(input, root)
  local dir = pandoc.path.directory(pandoc.path.make_relative(input, root))
  if dir == "." then return "" end
  return (dir:gsub("[^/]+", ".."))
end

function Pandoc(doc)
  local input = quarto.doc.input_file
  if pandoc.path.filename(input) == "report.qmd" then return nil end
  local root = quarto.project.directory or pandoc.path.directory(input)
  local present = {}
  doc:walk({
    Block = function(el) if el.identifier and el.identifier ~= "" then present[el.identifier] = true end end,
    Inline = function(el) if el.identifier and el.identifier ~= "" then present[el.identifier] = true end end,
  })
  for _, block in ipairs(doc.blocks) do  -- cells keep their label in their attributes
    if block.attributes and block.attributes.label then present[block.attributes.label] = true end
  end
  local names, paper = nil, nil
  doc.blocks = doc.blocks:walk({ Cite = function(cite)
    local out = pandoc.Inlines({})
    for i, c in ipairs(cite.citations) do
      local kind = c.id:match("^(%a+)%-")
      if not (KINDS[kind] and not present[c.id]) then return nil end
      names = names or catalogue(root)
      paper = paper or (relative_to_root(input, root) .. output_dir(root) .. "/report.html")
      local where = names[c.id]
      local text = kind == "sec" and ("Section \u{201C}" .. (where or c.id) .. "\u{201D}")
        or (KINDS[kind] .. (where and (" of \u{201C}" .. where .. "\u{201D}") or (" " .. c.id)))
      if i > 1 then out:insert(pandoc.Str(i == #cite.citations and " and " or ", ")) end
      out:insert(pandoc.Link(pandoc.Inlines(text), paper .. "#" .. c.id, "in the full paper"))
    end
    return out
  end })
  return doc
end
