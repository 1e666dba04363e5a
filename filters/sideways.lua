-- A block marked `::: {.landscape}` (a table too wide for a portrait page) is set sideways in
-- the PDF as a float: rotated a quarter turn on a portrait page and placed at the top of the
-- next page it fits on, while the running text goes on filling the page before it. Quarto's own
-- landscape support (`#set page(flipped: true)`) starts a page of its own, so whatever
-- preceded the table was left alone on a mostly blank page (Figure 16 in the review of
-- 2026-12-02). The rotated block is 24 cm wide: the height of an A4 page's text area with the
-- 2 cm margins of _quarto.yml. Runs before Quarto (pre-quarto), which would otherwise flip the
-- page. In the HTML the block takes the page's right margin as well (Quarto's
-- `column-page-right`), so the table's last columns are not cut off at 1280 px.
if quarto.doc.is_format("html") then
  return {
    Div = function(div)
      if div.classes:includes("landscape") and not div.classes:includes("column-page-right") then
        div.classes:insert("column-page-right")
        return div
      end
    end,
  }
end
if not quarto.doc.is_format("typst") then
  return {}
end

function Div(div)
  if not div.classes:includes("landscape") then
    return nil
  end
  local blocks = pandoc.Blocks({
    pandoc.RawBlock("typst", '#place(auto, float: true, rotate(-90deg, reflow: true, block(width: 24cm)['),
  })
  blocks:extend(div.content)
  blocks:insert(pandoc.RawBlock("typst", "]))"))
  return blocks
end
