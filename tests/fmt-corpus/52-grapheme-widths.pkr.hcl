# Alignment counts grapheme clusters as the Unicode 12 rules of Packer 1.6.6 do:
# a Devanagari conjunct is two, an emoji ZWJ sequence is one.
m = {
  "👨‍👩‍👧" = 0
  zz0 = 0
  "👍🏽" = 1
  zz1 = 1
  "각" = 2
  zz2 = 2
  "क्ष" = 3
  zz3 = 3
  "a‍b" = 4
  zz4 = 4
  "é́́" = 5
  zz5 = 5
  "กำ" = 6
  zz6 = 6
  "x⃣" = 7
  zz7 = 7
  "🇺🇸🇷" = 8
  zz8 = 8
  " " = 9
  zz9 = 9
  "あ゙" = 10
  zz10 = 10
}
