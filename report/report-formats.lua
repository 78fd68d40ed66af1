-- report-formats.lua: per-format fixes for the MSHT report (Quarto 1.7 and later).
--
-- typst: Quarto writes an unnumbered heading as `#heading(numbering: none)[...]` and drops its
-- label (quarto-cli#13698, open in 1.7 and 1.8), so a link such as [Appendix 3](#sec-appendix-3)
-- stops the PDF with "label <sec-appendix-3> does not exist in the document". Here each
-- unnumbered heading with an identifier becomes a typst heading that keeps its label; it stays
-- in the PDF's outline unless it is also .unlisted.
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

-- The text width in points of an A4 page less two 2 cm margins, upright and in a `.landscape`
-- div (which Quarto turns sideways in typst and Word), and the estimated width of one character
-- of table text (9 pt type in the PDF, see _quarto.yml), in points, with the cell's inset on
-- both sides.
local LINE_PT = 482
local LANDSCAPE_LINE_PT = 728
local CHAR_PT = 4.9
local INSET_PT = 12
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

-- Column widths in points: {natural, minimum} of each column -> the laid-out widths.
local function lay_out(natural, minimum, line_pt)
  local n, sum_max, sum_min = #natural, 0, 0
  for i = 1, n do
    sum_max = sum_max + natural[i]
    sum_min = sum_min + minimum[i]
  end
  local widths = {}
  if sum_max <= line_pt then
    for i = 1, n do widths[i] = natural[i] end
  elseif sum_min >= line_pt then
    -- Too wide even with every column at its longest word: keep the words whole.
    for i = 1, n do widths[i] = minimum[i] end
  else
    local extra, slack = line_pt - sum_min, sum_max - sum_min
    for i = 1, n do widths[i] = minimum[i] + extra * (natural[i] - minimum[i]) / slack end
  end
  return widths
end

local function paged_format()
  return quarto.doc.is_format("typst") or quarto.doc.is_format("docx")
end

-- Give ``tbl`` column widths for a text width of ``line_pt`` points (nil: it has widths already).
local function set_widths(tbl, line_pt)
  local n = #tbl.colspecs
  if n == 0 then
    return nil
  end
  for _, spec in ipairs(tbl.colspecs) do
    if spec[2] ~= nil and spec[2] ~= pandoc.ColWidthDefault and spec[2] ~= 0 then
      return nil -- the author set the widths
    end
  end
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
    minimum[i] = words[i] * CHAR_PT + INSET_PT
    natural[i] = math.max(chars[i] * CHAR_PT + INSET_PT, minimum[i])
  end
  local widths = lay_out(natural, minimum, line_pt)
  for i = 1, n do
    tbl.colspecs[i] = { tbl.colspecs[i][1], widths[i] / line_pt }
  end
  return tbl
end

-- Two passes: tables in `.landscape` divs first (they get the wider line), then the rest (a
-- table that has widths by then is left alone).
local landscape_pass = {
  Div = function(div)
    if not paged_format() or not div.classes:includes("landscape") then
      return nil
    end
    return div:walk({ Table = function(tbl) return set_widths(tbl, LANDSCAPE_LINE_PT) end })
  end,
}

local main_pass = {
  Header = Header,
  Table = function(tbl)
    if not paged_format() then
      return nil
    end
    return set_widths(tbl, LINE_PT)
  end,
}

return { landscape_pass, main_pass }
