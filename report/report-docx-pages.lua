-- report-docx-pages.lua: the Word file's pages are all A4 with 2 cm side margins, like the PDF.
--
-- `msht render` gives Word an A4 reference document, which sets the last section's page. Quarto's
-- `.landscape` divs (quarto-post/landscape.lua) end the upright section before each landscape
-- page with an empty `<w:sectPr></w:sectPr>` (Word then falls back to US Letter) and give the
-- landscape section an A4 size with Word's default margins. This filter, run after Quarto's
-- layout filters (`at: post-render` in the article's front matter), writes both in full.

local PORTRAIT = '<w:pgSz w:w="11906" w:h="16838" />'
  .. '<w:pgMar w:top="1247" w:right="1134" w:bottom="1247" w:left="1134" w:header="708" w:footer="708" w:gutter="0" />'
local LANDSCAPE_MARGINS =
  '<w:pgMar w:top="1134" w:right="1247" w:bottom="1134" w:left="1247" w:header="708" w:footer="708" w:gutter="0" />'

function RawBlock(el)
  if not quarto.doc.is_format("docx") or el.format ~= "openxml" or not el.text:find("<w:sectPr>") then
    return nil
  end
  local text = el.text:gsub("<w:sectPr>%s*</w:sectPr>", "<w:sectPr>" .. PORTRAIT .. "</w:sectPr>")
  if text:find('w:orient="landscape"') and not text:find("<w:pgMar") then
    text = text:gsub("(w:orient=\"landscape\"%s*/>)", "%1" .. LANDSCAPE_MARGINS)
  end
  if text == el.text then
    return nil
  end
  el.text = text
  return el
end
