-- report-formats.lua: per-format fixes for the MSHT report (Quarto 1.7 and later; rendered with
-- 1.7.34 and 1.10.18).
--
-- 1. typst: Quarto writes an unnumbered heading as `#heading(numbering: none)[...]` and drops
--    its label (quarto-cli#13698, open in 1.7 and 1.8), so a link such as
--    [Appendix 3](#sec-appendix-3) stops the PDF with "label <sec-appendix-3> does not exist in
--    the document". Here each unnumbered heading with an identifier becomes a typst heading
--    that keeps its label; it stays in the PDF's outline unless it is also .unlisted.
-- 2. typst and Word: table column widths from the cells' content (see set_widths below).
-- 3. Everything but HTML: `.column-*` classes are dropped (see html_only_columns below), and
--    images wider than the text are fitted to it (fit_image).
--
-- This filter runs before Quarto's own filters (a user filter's default place).

-- A typst label can hold letters, digits, "_", "-", ":" and ".".
local function typst_label(identifier)
  if identifier ~= "" and identifier:match("^[%w_%-:%.]+$") then
    return "<" .. identifier .. ">"
  end
  return nil
end

local function typst_content(inlines)
  local text = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "typst")
  return (text:gsub("%s+$", ""))
end

local function Header(el)
  if not quarto.doc.is_format("typst") or not el.classes:includes("unnumbered") then
    return nil
  end
  local label = typst_label(el.identifier)
  if label == nil then
    return nil
  end
  local outlined = el.classes:includes("unlisted") and "false" or "true"
  return pandoc.RawBlock("typst", string.format(
    "#heading(level: %d, numbering: none, outlined: %s)[%s] %s",
    el.level, outlined, typst_content(el.content), label))
end

-- typst and docx: column widths from the cells' content. Tables that come from the notebooks'
-- HTML (great_tables) reach Pandoc with no column widths; typst then wraps text cells early and
-- Word makes the first column one word wide. Here, as a browser lays out an automatic table,
-- each column is as wide as its longest cell (capped, so that one long note wraps rather than
-- taking the page) when the table fits the text width; otherwise every column keeps at least
-- its longest word and the rest of the width is shared in proportion to what each column would
-- still need. Widths are estimated from character counts at the table's font size.

-- Per format: the text width in points, upright and in a `.landscape` div (which Quarto turns
-- sideways in typst and Word), the estimated width of one character of table text and the
-- cell's inset on both sides. typst: A4 less two 2 cm margins, 9 pt table text (_quarto.yml).
-- Word: the 5.5 in block Quarto gives a table (its landscape pages widen it), 10 pt text.
-- A table that fits keeps typst's own column sizes; Word gets the widths in every case.
local PAGE = {
  typst = { line = 482, landscape = 728, char = 4.9, inset = 12, auto_when_fits = true, squeeze = false },
  docx = { line = 396, landscape = 648, char = 6.2, inset = 12, auto_when_fits = false, squeeze = true },
}

-- A cell longer than this many characters wraps rather than widening its column further.
local MAX_CELL_CHARS = 40

local function text_length(blocks)
  local text = pandoc.utils.stringify(blocks)
  return utf8.len(text) or #text
end

local function longest_word(blocks)
  local longest = 0
  for word in pandoc.utils.stringify(blocks):gmatch("%S+") do
    longest = math.max(longest, utf8.len(word) or #word)
  end
  return longest
end

local function measure_rows(rows, natural, words)
  for _, row in ipairs(rows) do
    local column = 1
    for _, cell in ipairs(row.cells) do
      local span = cell.col_span or 1
      if span == 1 and natural[column] ~= nil then
        natural[column] = math.max(natural[column], math.min(text_length(cell.contents), MAX_CELL_CHARS))
        words[column] = math.max(words[column], longest_word(cell.contents))
      end
      column = column + span
    end
  end
end

-- Column widths in points: {natural, minimum} of each column -> the laid-out widths, and
-- whether the table fits at its natural widths. ``squeeze``: a table too wide even at its
-- longest words is narrowed to the line.
local function lay_out(natural, minimum, line_pt, squeeze)
  local n, sum_max, sum_min = #natural, 0, 0
  for i = 1, n do
    sum_max = sum_max + natural[i]
    sum_min = sum_min + minimum[i]
  end
  local widths = {}
  if sum_max <= line_pt then
    for i = 1, n do widths[i] = natural[i] end
    return widths, true
  elseif sum_min >= line_pt then
    -- Too wide even with every column at its longest word: keep the words whole (typst would
    -- print a word that does not fit over the next cell), or, where the format breaks long
    -- words itself (Word), share the line in proportion to the words.
    local scale = squeeze and line_pt / sum_min or 1
    for i = 1, n do widths[i] = minimum[i] * scale end
  else
    local extra, slack = line_pt - sum_min, sum_max - sum_min
    for i = 1, n do widths[i] = minimum[i] + extra * (natural[i] - minimum[i]) / slack end
  end
  return widths, false
end

local function page()
  if quarto.doc.is_format("typst") then
    return PAGE.typst
  elseif quarto.doc.is_format("docx") then
    return PAGE.docx
  end
  return nil
end

-- Marks a table this filter has laid out (so that the second pass leaves it alone).
local LAID_OUT = "data-msht-laid-out"

-- True when the widths of ``colspecs`` say something: set and not all equal (Pandoc gives equal
-- widths to a pipe table with a long line, and Quarto to some HTML tables, when nothing tells).
local function widths_given(colspecs)
  local first = colspecs[1][2]
  for _, spec in ipairs(colspecs) do
    local width = spec[2]
    if width == nil or width == pandoc.ColWidthDefault or width == 0 then
      return false
    end
    if math.abs(width - first) > 1e-9 then
      return true
    end
  end
  return false
end

-- Give ``tbl`` column widths for the text width ``line_pt`` (nil: its widths are given).
local function set_widths(tbl, line_pt, fmt)
  local n = #tbl.colspecs
  if n == 0 or tbl.attributes[LAID_OUT] or widths_given(tbl.colspecs) then
    return nil
  end
  tbl.attributes[LAID_OUT] = "1"
  local chars, words = {}, {}
  for i = 1, n do
    chars[i], words[i] = 1, 1
  end
  measure_rows(tbl.head.rows, chars, words)
  for _, body in ipairs(tbl.bodies) do
    measure_rows(body.head, chars, words)
    measure_rows(body.body, chars, words)
  end
  measure_rows(tbl.foot.rows, chars, words)
  local natural, minimum = {}, {}
  for i = 1, n do
    minimum[i] = words[i] * fmt.char + fmt.inset
    natural[i] = math.max(chars[i] * fmt.char + fmt.inset, minimum[i])
  end
  local widths, fits = lay_out(natural, minimum, line_pt, fmt.squeeze)
  for i = 1, n do
    if fits and fmt.auto_when_fits then
      -- typst sizes the columns of a table that fits by itself; percentages would be taken of
      -- the narrower width of a centred table, and squeeze it.
      tbl.colspecs[i] = { tbl.colspecs[i][1], nil }
    else
      tbl.colspecs[i] = { tbl.colspecs[i][1], widths[i] / line_pt }
    end
  end
  return tbl
end

-- Two passes: tables in `.landscape` divs first (they get the wider line), then the rest.
local landscape_pass = {
  Div = function(div)
    local fmt = page()
    if fmt == nil or not div.classes:includes("landscape") then
      return nil
    end
    return div:walk({ Table = function(tbl) return set_widths(tbl, fmt.landscape, fmt) end })
  end,
}

-- Page-width columns (`.column-page` and the like) are for the HTML: from Quarto 1.9 on, typst
-- turns any of them into a margin-column page layout (marginalia) that narrows the body text
-- of the whole PDF to half the page.
local function html_only_columns(div)
  if quarto.doc.is_format("html") then
    return nil
  end
  local kept = div.classes:filter(function(class) return not class:match("^column%-") end)
  if #kept == #div.classes then
    return nil
  end
  div.classes = kept
  return div
end

-- An image whose width (in pixels, as Jupyter records it) is wider than the text is set to the
-- text width: typst and Word otherwise place it at its pixel size, past the page's margin.
local function fit_image(img)
  local fmt = page()
  local width = img.attributes["width"]
  if fmt == nil or width == nil then
    return nil
  end
  local px = tonumber(width) or tonumber(width:match("^([%d%.]+)px$") or "")
  if px == nil or px * 0.75 <= fmt.line then
    return nil
  end
  img.attributes["width"] = "100%"
  img.attributes["height"] = nil
  return img
end

local main_pass = {
  Div = html_only_columns,
  Image = fit_image,
  Header = Header,
  Table = function(tbl)
    local fmt = page()
    if fmt == nil then
      return nil
    end
    return set_widths(tbl, fmt.line, fmt)
  end,
}

return { landscape_pass, main_pass }
