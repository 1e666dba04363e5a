"""One module per chapter of the paper: what each chapter's cells and sentences show.

A chapter's first cell calls ``context()`` (the values its prose states, already worded);
every other cell calls one function of the chapter's module and shows what it returns.
"""
