module local/jk-pause

go 1.24
