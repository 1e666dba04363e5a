-- A chapter rendered alone (`quarto render chapters/03-baseline.qmd`) refers to sections,
-- figures and tables of other chapters that this document does not hold: Quarto would print
-- "?@sec-tuning" and warn. Before Quarto resolves cross-references, each such reference
-- becomes a link to the same anchor in the full paper (report.qmd's HTML, in the profile's
-- output folder), named by the section's title or by the chapter that holds the figure or
-- table, so a reader of one chapter can follow it. A reference to a section of the chapter
-- itself becomes a link to it, named by its title. The full paper itself is left alone.

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
  if dir == "." then return "." end
  return (dir:gsub("[^/]+", ".."))
end

-- The folder holding _quarto.yml, from the document's folder upwards. A chapter outside the
-- project's render list is rendered as a project of its own folder (chapters/), so
-- quarto.project.directory would name chapters/, not the paper's project.
function project_root(dir)
  local here = dir
  while here and here ~= "" do
    if read(pandoc.path.join({ here, "_quarto.yml" })) then return here end
    local up = pandoc.path.directory(here)
    if up == here then break end
    here = up
  end
  return dir
end

function Pandoc(doc)
  local input = quarto.doc.input_file
  if pandoc.path.filename(input) == "report.qmd" then return nil end
  local root = project_root(pandoc.path.directory(input))
  -- the labels this document defines, read from its source: section ids and cell labels
  local present = {}
  local source = read(input) or ""
  for id in source:gmatch("{#([%a]+%-[%w_-]+)") do present[id] = true end
  for id in source:gmatch("#|%s*label:%s*([%a]+%-[%w_-]+)") do present[id] = true end
  local names, paper = nil, nil
  doc.blocks = doc.blocks:walk({ Cite = function(cite)
    local out = pandoc.Inlines({})
    for i, c in ipairs(cite.citations) do
      -- A section of this document is linked too: rendered alone, a chapter is a document of
      -- its own without section numbers, so Quarto cannot number a reference to it either.
      local kind = c.id:match("^(%a+)%-")
      if not (KINDS[kind] and (kind == "sec" or not present[c.id])) then return nil end
      names = names or catalogue(root)
      paper = paper or pandoc.path.normalize(
        pandoc.path.join({ relative_to_root(input, root), output_dir(root), "report.html" }))
      local where = names[c.id]
      local text = kind == "sec" and ("Section \u{201C}" .. (where or c.id) .. "\u{201D}")
        or (KINDS[kind] .. (where and (" of \u{201C}" .. where .. "\u{201D}") or (" " .. c.id)))
      if i > 1 then out:insert(pandoc.Str(i == #cite.citations and " and " or ", ")) end
      if present[c.id] then
        out:insert(pandoc.Link(pandoc.Inlines(text), "#" .. c.id))
      else
        out:insert(pandoc.Link(pandoc.Inlines(text), paper .. "#" .. c.id, "in the full paper"))
      end
    end
    return out
  end })
  return doc
end
