-- The abstract is written in the body, as `::: {#abstract}`, so that it can state the
-- computed result with inline expressions (front matter is not executed); this filter moves
-- it into the document's metadata, where both formats' title blocks show it.
function Pandoc(doc)
  local kept = pandoc.Blocks({})
  for _, block in ipairs(doc.blocks) do
    if block.t == "Div" and block.identifier == "abstract" then
      doc.meta.abstract = pandoc.MetaBlocks(block.content)
    else
      kept:insert(block)
    end
  end
  doc.blocks = kept
  return doc
end
